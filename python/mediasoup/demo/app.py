"""The browser demo: a video call people would use. Each tab that opens
the page joins a room under a name, publishes its camera and microphone,
and shows every other participant, with mute and camera toggles, a chat
panel (text and files) over a data channel, the active speaker
highlighted and a small stats overlay per tile. WHIP publishers (OBS,
GStreamer, ffmpeg, a page using ``fetch``) and WHEP viewers join the same
rooms over HTTP.

    python -m mediasoup demo [--host 127.0.0.1] [--port 8080]
    python -m mediasoup demo --host 0.0.0.0 --tls [--announced-ip 192.0.2.10]

From another device (a phone on the same network): ``--host 0.0.0.0``
serves the page and the media on every address of this machine, and
announces the host's LAN address in the ICE candidates (found without
sending anything: the source address the kernel would pick for a private
destination; ``--announced-ip`` overrides it). Browsers allow the camera
only in a secure context (https, or http on localhost), so ``--tls``
serves HTTPS with a self-signed certificate generated at startup (ECDSA
P-256, for ``localhost``, 127.0.0.1 and the announced address): the
browser warns once, accept it. The address to open is printed.

Pages: ``/`` shows the join screen (a name, and a room: ``demo``, or
``?room=<name>``); ``/whip.html?room=<name>`` publishes the camera with
WHIP and ``/whep.html?room=<name>`` plays a room with WHEP (``fetch``
only). ``/metrics`` is the server's Prometheus exposition when
``prometheus_client`` is installed (``mediasoup[metrics]``).

Signalling is one WebSocket per tab (``/ws``) carrying JSON:

- page → server: ``{"type": "join", "name", "room"}`` first (the name must
  be free among the room's open peers), then ``{"type": "offer", "sdp"}``
  (once), ``{"type": "answer", "sdp"}`` to each offer the server sends, and
  ``{"type": "state", "audio": bool, "video": bool}`` when the microphone or
  the camera is switched off or on;
- server → page: ``{"type": "joined", "id", "name", "room"}`` or
  ``{"type": "error", "message"}`` (a name taken, say; the socket then
  closes), ``{"type": "answer", "sdp"}``, ``{"type": "offer", "sdp"}`` (when
  other participants' streams are to be added or removed:
  ``negotiationneeded``), ``{"type": "peers", "peers": [{"id", "name",
  "audio", "video"}, ...]}`` whenever the room changes (a received stream's
  id is its publisher's peer id), ``{"type": "activespeaker", "peer": id}``
  (``room.on('activespeaker')``), ``{"type": "audiolevels", "levels":
  [{"peer", "dBov"}, ...]}`` (``room.on('audiolevels')``), ``{"type":
  "layers", "peer", "layers": {"spatialLayer", "temporalLayer"} | null,
  "score"}`` when the layers or the score of the tab's sender of a
  participant's video change (``rtpSender.on('layerschange')`` and
  ``on('score')``) and, on joining,
  ``{"type": "chathistory", "messages": [{"from", "text"}, ...]}``.

Chat goes page to page over SCTP data channels, relayed by the server by
label (``Room(dataChannelRelay=True)``): each page opens ``chat`` (reliable,
ordered) and ``cursor`` (``ordered: false, maxRetransmits: 0``: the mouse
pointer over the call) before its first offer; a page that did not gets
them from the server (``ondatachannel``). On ``chat``, a text message is
``{"from", "text"}``; a file is ``{"from", "file": name, "size", "id"}``
followed by binary messages of at most 16 KiB: the transfer's id (8
bytes, ``id`` in hex) then the file's next bytes, so that transfers from
several senders may interleave. The server keeps the last text messages
(``peer.on('datachannelmessage')``) for the history it gives a page that
joins.

WHIP (RFC 9725) and WHEP, one HTTP request per session:

- ``POST /whip/<room>`` with an SDP offer (``Content-Type: application/sdp``)
  publishes into the room: ``201 Created``, the answer, and ``Location`` of
  the session;
- ``POST /whep/<room>`` with an offer of ``recvonly`` sections plays the
  room's oldest streams (one per section of their kind): ``201`` and the
  answer carrying them; ``404`` if nothing is published there yet;
- ``DELETE <Location>`` ends the session; ``PATCH`` (trickle ICE, ICE
  restart) is answered ``405``: the server is ICE-lite and learns the
  client's address from its connectivity checks, every candidate of its
  own is in the answer.

The server side of each tab and each session is a
:class:`mediasoup.webrtc.RTCPeerConnection`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import ipaddress
import itertools
import json
import logging
import pathlib
import socket
import ssl
import tempfile
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from .. import _mediasoup
from ..errors import MediasoupError
from ..metrics import Exporter
from ..peer import Peer
from ..room import Room
from ..rtp_receiver import RtpReceiver
from ..rtp_sender import RtpSender
from ..server import Server
from ..webrtc import RTCPeerConnection

_logger = logging.getLogger("mediasoup.demo")
PAGE = pathlib.Path(__file__).with_name("index.html")
#: The WHIP publisher / WHEP viewer page (served as /whip.html and /whep.html).
HTTP_PAGE = pathlib.Path(__file__).with_name("whip.html")
DEFAULT_ROOM = "demo"
#: The longest room name a page may ask for.
MAX_ROOM_CHARS = 64
#: Chat messages kept per room for the pages that join later.
CHAT_HISTORY = 50
#: How long a new socket may take to say who joins.
JOIN_TIMEOUT = 30.0
#: How long a WHIP/WHEP session may stay unconnected (never connected, or
#: disconnected: str0m's consent window is 15 s) before it ends.
SESSION_GRACE = 30.0
SDP = "application/sdp"
#: Headers every WHIP/WHEP answer carries, so pages of other origins can use them.
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Location"}


class Participant:
    """A tab in a room: its socket, its peer and whether its microphone and camera are on."""

    def __init__(self, socket: web.WebSocketResponse, peer: Peer) -> None:
        self.socket = socket
        self.peer = peer
        self.audio = True
        self.video = True


class Demo:
    """The rooms, the tabs in them, and the WHIP/WHEP sessions."""

    def __init__(self, server: Server, session_grace: float = SESSION_GRACE) -> None:
        self.server = server
        # A WHIP/WHEP session not connected this long after its offer, or
        # disconnected this long (its client gone without a DELETE), ends.
        self.session_grace = session_grace
        self.session_timers: dict[str, asyncio.TimerHandle] = {}
        self.rooms: dict[str, Room] = {}
        self.rooms_lock = asyncio.Lock()
        # Per room: its tabs, by peer id.
        self.participants: dict[str, dict[str, Participant]] = {}
        # Per room: the peer id of the active speaker, and the last chat messages.
        self.speakers: dict[str, str | None] = {}
        self.chats: dict[str, collections.deque[dict[str, str]]] = {}
        # WHIP/WHEP sessions by id, with their room's name.
        self.sessions: dict[str, tuple[RTCPeerConnection, str]] = {}
        self.numbers = itertools.count(1)

    async def room(self, name: str) -> Room:
        async with self.rooms_lock:
            room = self.rooms.get(name)
            if room is None or room.closed:
                room = self.rooms[name] = await self.server.Room()
                room.on("activespeaker", lambda receiver: self.speaker_changed(name, receiver))
                room.on("audiolevels", lambda levels: self.levels_measured(name, levels))
            return room

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def http_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(HTTP_PAGE)

    async def tell_room(self, room_name: str, message: dict[str, Any]) -> None:
        """Sends `message` to every tab of the room (a tab that has gone is skipped)."""
        for participant in list(self.participants.get(room_name, {}).values()):
            await send(participant.socket, message)

    async def broadcast_peers(self, room_name: str) -> None:
        """Tells the room's tabs who is there (ids name received streams)."""
        room = self.rooms.get(room_name)
        if room is None:
            return
        tabs = self.participants.get(room_name, {})
        peers = []
        for peer in room.peers:
            if peer.closed:
                continue
            tab = tabs.get(peer.id)
            peers.append({"id": peer.id, "name": peer.name, "audio": tab is None or tab.audio, "video": tab is None or tab.video})
        await self.tell_room(room_name, {"type": "peers", "peers": peers})

    async def speaker_changed(self, room_name: str, receiver: RtpReceiver | None) -> None:
        speaker = receiver.peer.id if receiver is not None else None
        self.speakers[room_name] = speaker
        await self.tell_room(room_name, {"type": "activespeaker", "peer": speaker})

    async def levels_measured(self, room_name: str, levels: list[tuple[RtpReceiver, float]]) -> None:
        measured = [{"peer": receiver.peer.id, "dBov": dbov} for receiver, dbov in levels]
        await self.tell_room(room_name, {"type": "audiolevels", "levels": measured})

    def chat_message(self, room_name: str, peer: Peer, label: str, data: str | bytes) -> None:
        """A data channel message of a tab (relayed to the others by the worker):
        the chat's text messages are kept for the tabs that join later."""
        if label != "chat" or not isinstance(data, str):
            return
        try:
            message = json.loads(data)
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("text"), str):
            # The name is the peer's, whatever the page wrote.
            self.chats.setdefault(room_name, collections.deque(maxlen=CHAT_HISTORY)).append({"from": peer.name, "text": message["text"]})
            _logger.info("chat in %s: %s: %s", room_name, peer.name, message["text"][:200])

    async def join(self, socket: web.WebSocketResponse) -> tuple[str, Peer] | None:
        """Reads the tab's ``join`` message and makes its peer; None (the page
        told why) if the message is wrong or the name taken."""
        try:
            message = await socket.receive(timeout=JOIN_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        if message.type != WSMsgType.TEXT:
            return None
        try:
            data = json.loads(message.data)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("type") != "join":
            await send(socket, {"type": "error", "message": 'the first message must be {"type": "join", "name", "room"}'})
            return None
        name = str(data.get("name") or "").strip()
        room_name = str(data.get("room") or DEFAULT_ROOM).strip() or DEFAULT_ROOM
        if len(room_name) > MAX_ROOM_CHARS:
            await send(socket, {"type": "error", "message": f"a room name has at most {MAX_ROOM_CHARS} characters, not {len(room_name)}"})
            return None
        room = await self.room(room_name)
        if room.getPeer(name) is not None:
            await send(socket, {"type": "error", "message": f"someone named {name!r:.80} is in room {room_name!r:.80} already: choose another name"})
            return None
        try:
            peer = await room.Peer(name)
        except (TypeError, ValueError, MediasoupError) as error:
            await send(socket, {"type": "error", "message": str(error)})
            return None
        return room_name, peer

    async def signalling(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=20)
        await socket.prepare(request)
        joined = await self.join(socket)
        if joined is None:
            await socket.close()
            return socket
        room_name, peer = joined
        name = peer.name
        pc = RTCPeerConnection(peer)
        participant = Participant(socket, peer)
        self.participants.setdefault(room_name, {})[peer.id] = participant
        peer.on("datachannelmessage", lambda label, data: self.chat_message(room_name, peer, label, data))
        peer.on("newrtpsender", lambda sender: watch_layers(socket, sender))
        for sender in peer.rtpSenders:
            watch_layers(socket, sender)
        renegotiating = asyncio.Lock()

        async def renegotiate() -> None:
            # One offer at a time; the page's answer comes back on the socket.
            async with renegotiating:
                if pc.signalingState != "stable" or socket.closed:
                    return
                await pc.setLocalDescription(await pc.createOffer())
                assert pc.localDescription is not None
                await send(socket, pc.localDescription.toJSON())

        pc.on("negotiationneeded", renegotiate)
        _logger.info("%s joined room %s", name, room_name)
        await send(socket, {"type": "joined", "id": peer.id, "name": name, "room": room_name})
        await send(socket, {"type": "chathistory", "messages": list(self.chats.get(room_name, ()))})
        await self.broadcast_peers(room_name)
        if self.speakers.get(room_name) is not None:
            await send(socket, {"type": "activespeaker", "peer": self.speakers[room_name]})
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                data: dict[str, Any] = message.json()
                if data.get("type") == "offer":
                    await pc.setRemoteDescription(data)
                    await pc.setLocalDescription(await pc.createAnswer())
                    assert pc.localDescription is not None
                    await send(socket, pc.localDescription.toJSON())
                elif data.get("type") == "answer":
                    # Streams that arrived meanwhile make negotiationneeded fire again.
                    await pc.setRemoteDescription(data)
                elif data.get("type") == "state":
                    participant.audio = bool(data.get("audio", True))
                    participant.video = bool(data.get("video", True))
                    await self.broadcast_peers(room_name)
        except (ValueError, MediasoupError) as error:
            _logger.warning("%s: %s", name, error)
            await send(socket, {"type": "error", "message": str(error)})
        finally:
            self.participants[room_name].pop(peer.id, None)
            pc.close()
            if self.speakers.get(room_name) == peer.id:
                self.speakers[room_name] = None
            _logger.info("%s left room %s", name, room_name)
            await self.broadcast_peers(room_name)
        return socket

    async def whip(self, request: web.Request) -> web.Response:
        """``POST /whip/<room>``: a publisher's offer (RFC 9725 §4.2)."""
        return await self.start_session(request, "whip")

    async def whep(self, request: web.Request) -> web.Response:
        """``POST /whep/<room>``: a viewer's offer of recvonly sections."""
        return await self.start_session(request, "whep")

    async def start_session(self, request: web.Request, protocol: str) -> web.Response:
        if request.content_type != SDP:
            return error(415, f"the offer must be sent as {SDP}, not {request.content_type}")
        offer = await request.text()
        room_name = request.match_info["room"]
        room = await self.room(room_name)
        name = f"{protocol}-{next(self.numbers)}"
        while room.getPeer(name) is not None:  # a tab took that name
            name = f"{protocol}-{next(self.numbers)}"
        peer = await room.Peer(name)
        pc = RTCPeerConnection(peer)
        try:
            await pc.setRemoteDescription({"type": "offer", "sdp": offer})
            # ↓ Any other failure, or the client gone (cancelled), leaves no peer behind either.
            if protocol == "whip" and not peer.rtpReceivers:
                raise Unprocessable("the offer publishes no audio or video the room can forward")
            if protocol == "whep" and not any(sender.transport is not None for sender in peer.rtpSenders):
                pc.close()
                return error(404, f"nothing is published in room {room_name!r} yet")
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, Unprocessable) as failure:
            pc.close()
            return error(400 if isinstance(failure, ValueError) else 422, str(failure))
        except MediasoupError as failure:
            pc.close()
            _logger.exception("a %s session in room %s failed", protocol, room_name)
            return error(500, str(failure))
        except BaseException:
            pc.close()
            raise
        assert pc.localDescription is not None
        session_id = uuid.uuid4().hex
        self.sessions[session_id] = (pc, room_name)
        pc.on("connectionstatechange", lambda: self.connection_changed(session_id))
        self.connection_changed(session_id)  # not connected yet: the grace starts
        _logger.info("%s: %s session %s in room %s", peer.name, protocol.upper(), session_id, room_name)
        await self.broadcast_peers(room_name)
        location = str(request.app.router["session"].url_for(session_id=session_id))
        return web.Response(
            status=201,
            body=pc.localDescription.sdp.encode(),
            content_type=SDP,
            headers={"Location": location, "ETag": f'"{session_id}"', **CORS},
        )

    def connection_changed(self, session_id: str) -> None:
        """A session ends when its connection fails or closes (its peer, room
        or worker closed), or after ``session_grace`` seconds in any state
        but 'connected' (the server is ICE-lite: a client that never checks,
        or stops, only shows as 'new' or 'disconnected')."""
        pc, _ = self.sessions.get(session_id, (None, ""))
        if pc is None:
            return
        self.stop_timer(session_id)
        if pc.connectionState in ("failed", "closed"):
            self.end_session(session_id)
        elif pc.connectionState != "connected":
            self.session_timers[session_id] = asyncio.get_running_loop().call_later(self.session_grace, self.expire_session, session_id)

    def expire_session(self, session_id: str) -> None:
        self.session_timers.pop(session_id, None)
        pc, room_name = self.sessions.get(session_id, (None, ""))
        if pc is not None:
            _logger.info("session %s in room %s: not connected for %.0f s, ended", session_id, room_name, self.session_grace)
            self.end_session(session_id)

    def stop_timer(self, session_id: str) -> None:
        timer = self.session_timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()

    def end_session(self, session_id: str) -> None:
        self.stop_timer(session_id)
        pc, room_name = self.sessions.pop(session_id, (None, ""))
        if pc is not None:
            pc.close()
            asyncio.ensure_future(self.broadcast_peers(room_name))

    async def session(self, request: web.Request) -> web.Response:
        """``DELETE`` ends a session; ``PATCH`` is not supported (see the module's notes)."""
        session_id = request.match_info["session_id"]
        if session_id not in self.sessions:
            return error(404, f"no session {session_id}")
        if request.method == "PATCH":
            return error(405, "trickle ICE and ICE restarts are not supported: every candidate is in the answer", allow="DELETE")
        self.end_session(session_id)
        return web.Response(status=200, headers=CORS)

    async def preflight(self, request: web.Request) -> web.Response:
        """``OPTIONS``: what a WHIP/WHEP endpoint or session accepts (CORS preflight too)."""
        headers = {
            **CORS,
            "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, If-Match, Authorization",
        }
        if "room" in request.match_info:
            headers["Accept-Post"] = SDP
        return web.Response(status=204, headers=headers)

    async def close(self) -> None:
        for session_id in list(self.sessions):
            self.end_session(session_id)


def watch_layers(socket: web.WebSocketResponse, sender: RtpSender) -> None:
    """Tells the tab the layers and the score of its sender of a participant's video as they change."""
    if sender.kind != "video":
        return
    publisher = sender.associatedRtpReceiver.peer.id

    async def tell(_: Any) -> None:
        await send(socket, {"type": "layers", "peer": publisher, "layers": sender.currentLayers, "score": sender.score})

    sender.on("layerschange", tell)
    sender.on("score", tell)


async def send(socket: web.WebSocketResponse, message: dict[str, Any]) -> None:
    """Sends `message` as JSON unless the tab has gone."""
    if socket.closed:
        return
    try:
        await socket.send_json(message)
    except ConnectionError:
        pass


class Unprocessable(Exception):
    """An offer that parses but cannot be served (422)."""


def error(status: int, message: str, allow: str | None = None) -> web.Response:
    headers = dict(CORS)
    if allow is not None:
        headers["Allow"] = allow
    return web.Response(status=status, text=message + "\n", headers=headers)


#: The app's Demo (its rooms and sessions), for tests and extensions.
DEMO = web.AppKey("demo", Demo)


def application(server: Server, session_grace: float = SESSION_GRACE) -> web.Application:
    demo = Demo(server, session_grace)
    app = web.Application()
    app[DEMO] = demo
    app.router.add_get("/", demo.page)
    app.router.add_get("/ws", demo.signalling)
    app.router.add_get("/whip.html", demo.http_page)
    app.router.add_get("/whep.html", demo.http_page)
    for protocol, handler in (("whip", demo.whip), ("whep", demo.whep)):
        app.router.add_post(f"/{protocol}/{{room}}", handler)
        app.router.add_route("OPTIONS", f"/{protocol}/{{room}}", demo.preflight)
    session = app.router.add_resource("/session/{session_id}", name="session")
    session.add_route("DELETE", demo.session)
    session.add_route("PATCH", demo.session)
    session.add_route("OPTIONS", demo.preflight)
    app.on_shutdown.append(lambda app: demo.close())
    exporter = metrics_exporter(server)
    if exporter is not None:
        app.router.add_get("/metrics", exporter.handle)

        async def close_exporter(app: web.Application) -> None:
            exporter.close()

        app.on_shutdown.append(close_exporter)
    return app


def metrics_exporter(server: Server) -> Exporter | None:
    """A Prometheus exporter of `server` in a registry of its own (several
    apps may run in one process), or None without ``prometheus_client``."""
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        _logger.info("no /metrics: prometheus_client is not installed (pip install 'mediasoup[metrics]')")
        return None
    return Exporter(server, CollectorRegistry(auto_describe=True))


async def serve(host: str, port: int, tls: bool = False, announced_ip: str | None = None) -> None:
    """Serves the demo on `host`:`port` (https with `tls`) until cancelled.

    Media listens on `host` too; on ``0.0.0.0`` the candidates carry
    `announced_ip`, by default the host's LAN address (:func:`lan_address`).
    """
    listen_ip = "127.0.0.1" if host == "localhost" else host
    if listen_ip == "0.0.0.0" and announced_ip is None:
        announced_ip = lan_address()
        if announced_ip is None:
            _logger.warning("no LAN address found: media is announced on 127.0.0.1, only this machine can join (see --announced-ip)")
            announced_ip = "127.0.0.1"
    options: dict[str, Any] = {"numWorkers": 1, "rtcListenIPv4": listen_ip, "rtcListenIPv6": False}
    if announced_ip is not None:
        options["rtcAnnouncedIPv4"] = announced_ip
    # The address others open: the one in the candidates, else the one listened on.
    public_host = announced_ip or listen_ip
    ssl_context = None
    if tls:
        names = ["localhost", "127.0.0.1", *(name for name in (listen_ip, public_host) if name != "0.0.0.0")]
        ssl_context = self_signed_context(list(dict.fromkeys(names)))
    async with Server(options) as server:
        runner = web.AppRunner(application(server))
        await runner.setup()
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        scheme = "https" if tls else "http"
        print(f"the demo is at {scheme}://{public_host}:{port}/ (open it in two tabs, or on two devices)", flush=True)
        if tls:
            print("the certificate is self-signed: accept it in the browser once", flush=True)
        elif not public_host.startswith("127."):
            print("other devices allow the camera only over https: add --tls", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def lan_address() -> str | None:
    """This host's IPv4 address on its local network, or None if it has none.

    The kernel's choice of source address towards private destinations:
    ``connect()`` on a UDP socket picks a route and sends nothing.
    """
    for destination in ("10.254.254.254", "192.168.254.254", "172.16.254.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((destination, 9))
            except OSError:
                continue
            address = str(probe.getsockname()[0])
        if not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
            return address
    return None


def pem(label: str, der: bytes) -> str:
    """`der` in PEM armour (RFC 7468): base64 in lines of 64 characters."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[start : start + 64] for start in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def self_signed_context(names: list[str]) -> ssl.SSLContext:
    """A server TLS context with a certificate generated for `names` (DNS
    names and IP addresses): ECDSA P-256, by the extension (rcgen)."""
    certificate, private_key = _mediasoup.self_signed_certificate(names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # load_cert_chain reads files only; they live just long enough.
    with tempfile.TemporaryDirectory(prefix="browser-demo-tls-") as directory:
        certificate_file = pathlib.Path(directory, "certificate.pem")
        key_file = pathlib.Path(directory, "key.pem")
        certificate_file.write_text(pem("CERTIFICATE", certificate))
        key_file.touch(mode=0o600)
        key_file.write_text(pem("PRIVATE KEY", private_key))
        context.load_cert_chain(certificate_file, key_file)
    return context


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """The command line: ``python -m mediasoup demo [options]``."""
    description = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve the page and media on; 0.0.0.0: every address, for other devices")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--tls", action="store_true", help="serve https with a generated self-signed certificate (other devices need it for the camera)")
    parser.add_argument("--announced-ip", help="the IPv4 address written into ICE candidates (default with --host 0.0.0.0: this host's LAN address)")
    arguments = parser.parse_args(argv)
    if arguments.announced_ip is not None:
        try:
            ipaddress.IPv4Address(arguments.announced_ip)
        except ValueError:
            parser.error(f"--announced-ip must be an IPv4 address, not {arguments.announced_ip!r:.80}")
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(arguments.host, arguments.port, arguments.tls, arguments.announced_ip))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
