"""A voice agent: a page talks, Python listens and answers, all on this machine.

    python examples/voice_agent/agent.py [--host 127.0.0.1] [--port 8080] [--answer voice|beep]

Open the address, press *Talk*, and speak: when you stop (0.6 s of quiet)
the agent answers, here with a synthesized voice saying nonsense
(``voice.respond``). ``?mode=echo`` makes it repeat what it hears at once
instead: you hear your own mouth-to-ear delay through Python.

Each page gets a room of its own with two peers: the page (a
:class:`mediasoup.webrtc.RTCPeerConnection`) and ``agent``, a Python peer on a
direct transport that

- subscribes to the page's microphone (``media.subscribe``: decoded 48 kHz
  PCM) and finds speech turns by energy (:class:`TurnDetector`: a turn
  starts after 0.2 s louder than -40 dBFS, ends after 0.6 s quieter);
- answers each turn through the hook ``respond(utterance)`` (an async
  iterator of ``av.AudioFrame``; speech recognition, a language model and
  speech synthesis go there), played by a :class:`Speaker` track published
  with ``media.publish``; speaking again while it answers interrupts it;
- publishes a video of its state, one solid colour each (:data:`STATE_COLOURS`),
  from a second Python peer, ``agent-video``: in a stream of its own, the
  browser does not delay the voice to play it in sync with the video.

Signalling is one WebSocket per page (``/ws?mode=conversation|echo``) of JSON:
the page sends ``{"type": "offer", "sdp"}`` and the answers to the server's
offers; the server sends ``{"type": "answer"|"offer", "sdp"}``,
``{"type": "state", "state"}`` (``listening``, ``hearing``, ``thinking``,
``speaking``, or ``echo``) and ``{"type": "turn", "seconds"}`` for each turn heard.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import pathlib
from typing import Any

import av
import numpy
from agent_tracks import Speaker, StateVideo
from aiohttp import WSMsgType, web
from turn_detector import TurnDetector, TurnEnded, TurnEvent, TurnStarted
from voice import Responder, beep, respond

import mediasoup
from mediasoup import media
from mediasoup.webrtc import RTCPeerConnection

_logger = logging.getLogger("voice_agent")
PAGE = pathlib.Path(__file__).with_name("index.html")
SERVER_OPTIONS: dict[str, Any] = {"numWorkers": 1, "rtcListenIPv6": False}
STATE_COLOURS: dict[str, tuple[int, int, int]] = {
    "listening": (40, 160, 90),
    "hearing": (230, 170, 30),
    "thinking": (150, 60, 200),
    "speaking": (30, 90, 220),
    "echo": (200, 60, 60),
}
#: The PCM heard last (seconds), kept for meters and tests.
HEARD_SECONDS = 4.0
#: In echo mode, the most audio waiting to be sent (seconds): older is dropped.
ECHO_BACKLOG = 0.06


class Conversation:
    """A page and its agent in a room of their own: what the agent hears,
    its turns, its state, and its answers."""

    def __init__(self, room: mediasoup.Room, respond: Responder, echo: bool = False) -> None:
        self.room = room
        self.respond = respond
        self.echo = echo
        self.detector = TurnDetector()
        self.speaker = Speaker(max_backlog=ECHO_BACKLOG if echo else None)
        self.state = "echo" if echo else "listening"
        self.video = StateVideo(STATE_COLOURS[self.state])
        self.heard: collections.deque[numpy.ndarray] = collections.deque(maxlen=int(HEARD_SECONDS * 50))
        self.turns: list[TurnEnded] = []
        self.tracks: list[media.RemoteTrack] = []  # what the agent hears
        #: What the page is told (state changes, turns), in order.
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._answer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._publishers: list[media.TrackPublisher] = []
        self._direct: mediasoup.DirectTransport | None = None

    async def join(self) -> None:
        """The agent joins the room and publishes its voice and its video."""
        agent = await self.room.Peer("agent")
        self._direct = await agent.createDirectTransport()
        # The video from a peer of its own: the page gets it in another stream,
        # so the browser does not hold the voice back to play it in sync with
        # the video (Chromium's lip sync added ~150 ms to the voice here).
        face = await self.room.Peer("agent-video")
        self._publishers = [await media.publish(self._direct, self.speaker),
                            await media.publish(await face.createDirectTransport(), self.video)]
        agent.on("newrtpsender", self._sender_added)

    def _sender_added(self, sender: mediasoup.RtpSender) -> None:
        if sender.kind == "audio":
            task = asyncio.ensure_future(self.listen(sender))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def listen(self, sender: mediasoup.RtpSender) -> None:
        """Hears the page's microphone until it ends."""
        assert self._direct is not None
        track = await media.subscribe(sender, self._direct)
        self.tracks.append(track)
        while True:
            try:
                frame = await track.recv()
            except media.MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]  # the first channel
            self.heard.append(pcm)
            if self.echo:
                self.speaker.play(pcm)
                continue
            for event in self.detector.feed(pcm):
                self._turn(event)

    def _turn(self, event: TurnEvent) -> None:
        if isinstance(event, TurnStarted):
            if self._answer is not None and not self._answer.done():
                self._answer.cancel()  # the user barged in
                self.speaker.interrupt()
            self._set_state("hearing")
            return
        self.turns.append(event)
        self.messages.put_nowait({"type": "turn", "seconds": round(event.duration, 3)})
        self._set_state("thinking")
        self._answer = asyncio.ensure_future(self._answer_turn(event.utterance))

    async def _answer_turn(self, utterance: numpy.ndarray) -> None:
        try:
            async for frame in self.respond(utterance):
                if self.state != "speaking":
                    self._set_state("speaking")
                self.speaker.play(frame)
            self.speaker.flush()
            await self.speaker.drained()
        except asyncio.CancelledError:
            raise
        except Exception:
            _logger.exception("the answer failed")
        self._set_state("listening")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.video.colour = STATE_COLOURS[state]
        self.messages.put_nowait({"type": "state", "state": state})

    def close(self) -> None:
        for task in [*self._tasks, *([self._answer] if self._answer else [])]:
            task.cancel()
        for publisher in self._publishers:
            publisher.stop()
        self.room.close()


class VoiceAgent:
    """The app: a conversation per page."""

    def __init__(self, server: mediasoup.Server, respond: Responder) -> None:
        self.server = server
        self.respond = respond
        self.conversations: list[Conversation] = []

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE)

    async def signalling(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=20)
        await socket.prepare(request)
        conversation = Conversation(await self.server.Room(), self.respond, echo=request.query.get("mode") == "echo")
        self.conversations.append(conversation)
        await conversation.join()
        pc = RTCPeerConnection(await conversation.room.Peer("you"))
        renegotiating = asyncio.Lock()

        async def renegotiate() -> None:
            async with renegotiating:
                if pc.signalingState == "stable" and not socket.closed:
                    await pc.setLocalDescription(await pc.createOffer())
                    assert pc.localDescription is not None
                    await send(socket, pc.localDescription.toJSON())

        async def tell_page() -> None:
            while True:
                await send(socket, await conversation.messages.get())

        pc.on("negotiationneeded", renegotiate)
        conversation.messages.put_nowait({"type": "state", "state": conversation.state})
        teller = asyncio.ensure_future(tell_page())
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
                    await pc.setRemoteDescription(data)
        except (ValueError, mediasoup.errors.MediasoupError) as error:
            _logger.warning("signalling failed: %s", error)
            await send(socket, {"type": "error", "message": str(error)})
        finally:
            teller.cancel()
            pc.close()
            conversation.close()
            self.conversations.remove(conversation)
        return socket


async def send(socket: web.WebSocketResponse, message: dict[str, Any]) -> None:
    """Sends ``message`` as JSON unless the page has gone."""
    if not socket.closed:
        try:
            await socket.send_json(message)
        except ConnectionError:
            pass


#: The app's VoiceAgent (its conversations), for tests.
VOICE_AGENT = web.AppKey("voice_agent", VoiceAgent)


def application(server: mediasoup.Server, respond: Responder = respond) -> web.Application:
    agent = VoiceAgent(server, respond)
    app = web.Application()
    app[VOICE_AGENT] = agent
    app.router.add_get("/", agent.page)
    app.router.add_get("/ws", agent.signalling)
    return app


async def serve(host: str, port: int, respond: Responder = respond) -> None:
    """Serves the page and the agent on ``host``:``port`` until cancelled."""
    async with mediasoup.Server({**SERVER_OPTIONS, "rtcListenIPv4": host}) as server:
        runner = web.AppRunner(application(server, respond))
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"the voice agent is at http://{host}:{port}/ (echo test: http://{host}:{port}/?mode=echo)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="the address of the page and the media (a browser gives the microphone to http pages on localhost only)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--answer", choices=("voice", "beep"), default="voice", help="what the agent answers: a synthesized voice, or an 880 Hz beep")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(arguments.host, arguments.port, respond if arguments.answer == "voice" else beep(880.0)))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
