"""``RTCPeerConnection``: the server side of a W3C peer connection (unified
plan, BUNDLE, ICE-lite), bound to a :class:`mediasoup.Peer`.

The endpoint usually offers first; :meth:`RTCPeerConnection.setRemoteDescription`
turns the offer into the peer's capabilities, one transport for every
section, and an ``RtpReceiver`` for each section that sends audio or video.
The other peers' streams (the peer's ``RtpSender``s) that exist already go
into the answer, on the offer's ``recvonly``/``sendrecv`` sections of their
kind, oldest first (a WHEP viewer gets its stream in the one answer);
:meth:`RTCPeerConnection.createAnswer` writes it. Streams that do not fit,
and those that appear later, reach the endpoint through offers made here:
``negotiationneeded`` fires, the application sends
:meth:`RTCPeerConnection.createOffer`'s offer and applies the endpoint's
answer; each such sender gets a ``sendonly`` section of its own, under its
mid. ``createOffer()`` also opens the conversation (server first).

An offer's ``m=application … webrtc-datachannel`` section gives the transport
SCTP: the data channels the endpoint opens join the room's relay by label
(``Room(dataChannelRelay=True)``), their messages reach the peer's
``datachannelmessage`` listeners, and ``peer.sendData(label, data)`` writes to them.

In SDP the payload types and header-extension ids are the endpoint's own
(Chromium's VP8 96, opus 111): a sender writes the codec at the payload type
the endpoint gave it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._events import EventEmitter
from ..errors import InvalidStateError
from ..peer import Peer
from . import ortc, remote_offer, sdp
from .description import RTCSessionDescription, type_name
from .negotiation import NegotiationNeeded, OfferOut

if TYPE_CHECKING:
    from ..rtp_receiver import RtpReceiver
    from ..rtp_sender import RtpSender
    from ..transport import Transport

__all__ = ["RTCPeerConnection", "RTCSessionDescription"]

_logger = logging.getLogger("mediasoup.webrtc")


class RTCPeerConnection(EventEmitter):
    """The server side of ``peer``'s WebRTC connection.

    Events: ``negotiationneeded()``, ``signalingstatechange()``,
    ``connectionstatechange()``.
    """

    def __init__(self, peer: Peer) -> None:
        super().__init__()
        if not isinstance(peer, Peer):
            raise TypeError(f"peer must be a Peer, not {type_name(peer)}")
        if peer.closed:
            raise InvalidStateError(f"peer {peer.name} is closed")
        self._peer = peer
        self._transport: Transport | None = None
        self._receivers: dict[str, RtpReceiver] = {}
        self._local: RTCSessionDescription | None = None
        self._remote: RTCSessionDescription | None = None
        self._offer: sdp.SessionDescription | None = None
        # The codecs chosen for each audio/video section of that offer, by mid.
        self._chosen: dict[str | None, list[sdp.Codec]] = {}
        self._signaling_state = "stable"
        self._connection_state = "new"
        self._session_id = random.randrange(1, 2**62)
        self._session_version = 0
        # The sections agreed so far, in order (what the next offer starts from).
        self._agreed: list[sdp.MediaSection] = []
        # The peer's senders put on this connection's transport, in order of arrival.
        self._senders: list[RtpSender] = []
        # This side's a=setup: 'active' (DTLS client) unless the endpoint
        # took that role; 'actpass' while an offer made first is out.
        self._setup = "active"
        self._last_answer: RTCSessionDescription | None = None
        # The offer made here that no answer has come for yet.
        self._out: OfferOut | None = None
        # Not while an operation runs (a createOffer() under way covers what
        # it finds): each that ends in 'stable' checks again.
        self._negotiation = NegotiationNeeded(lambda: self.emit("negotiationneeded"), lambda: self._signaling_state == "stable" and not self._operations.locked())
        # createOffer() found nothing to offer before any transport: the
        # application offers first, and hears negotiationneeded when it can.
        self._offer_wanted = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Placing senders in an answer and attaching new ones take turns.
        self._placing = asyncio.Lock()
        # The operations (descriptions set, offers and answers made) run one
        # at a time, in the order they were called: W3C's operations chain.
        self._operations = asyncio.Lock()
        peer.on("newrtpsender", self._on_sender)
        # The peer closed (by the app, its room, its worker's death): so is this connection.
        peer.on("close", lambda *_: self._closed_with_peer())

    @property
    def peer(self) -> Peer:
        return self._peer

    @property
    def transport(self) -> Transport | None:
        """The transport every section is bundled on, once there is an offer."""
        return self._transport

    @property
    def localDescription(self) -> RTCSessionDescription | None:
        return self._local

    @property
    def remoteDescription(self) -> RTCSessionDescription | None:
        return self._remote

    @property
    def signalingState(self) -> str:
        """'stable', 'have-remote-offer', 'have-local-offer' or 'closed'."""
        return self._signaling_state

    @property
    def connectionState(self) -> str:
        """'new', 'connecting', 'connected', 'disconnected', 'failed' or 'closed',
        from the transport's ICE and DTLS."""
        return self._connection_state

    async def setRemoteDescription(self, description: RTCSessionDescription | dict[str, Any]) -> None:
        """Applies the endpoint's offer (capabilities, transport, receivers),
        or its answer to an offer made here.

        Raises ValueError for SDP that does not parse or lacks what WebRTC
        needs (naming the line), InvalidStateError out of turn or closed.
        """
        remote = RTCSessionDescription.of(description)
        async with self._operation():
            await self._set_remote_description(remote)

    async def _set_remote_description(self, remote: RTCSessionDescription) -> None:
        self._check_open()
        if remote.type == "answer":
            return await self._apply_answer(remote)
        if remote.type == "rollback":
            return self._rollback()
        if remote.type != "offer":
            raise ValueError(f"a remote description is an offer, an answer or a rollback, not {remote.type!r:.80}")
        # Glare: the endpoint's offer crossed ours. This side is the polite one
        # (W3C's perfect negotiation): once theirs is found sound, ours is
        # rolled back and theirs applied; what ours carried fires
        # negotiationneeded again. Theirs failing leaves ours out.
        glare = self._signaling_state == "have-local-offer"
        if self._signaling_state != "stable" and not glare:
            raise InvalidStateError(f"an offer cannot be applied in signalingState {self._signaling_state!r:.80}")
        offer = sdp.parse(remote.sdp)
        media = remote_offer.live_sections(offer, self._agreed)
        first = media[0] if media else None
        setup, fingerprints = "actpass", list[tuple[str, str]]()
        # No DTLS role yet: no transport, or one opened for an offer of ours
        # that was rolled back before an answer (this offer settles it).
        unsettled = self._transport is None or self._setup == "actpass"
        if unsettled and first is not None:
            setup, fingerprints = remote_offer.dtls_of(offer, first)
        room_codecs = self._peer.room.rtpCapabilities["codecs"]
        # A section's codec is chosen once; a new offer keeps it.
        chosen = {
            section.mid: self._chosen.get(section.mid) or ortc.chosen_codecs(section, room_codecs)
            for section in media
            if section.kind in ("audio", "video")
        }
        publishing = [s for s in media if s.kind in ("audio", "video") and s.direction in ("sendrecv", "sendonly") and chosen[s.mid]]
        remote_offer.check_publishing(publishing)
        parameters = {
            section.mid: ortc.receive_parameters(section, chosen[section.mid]) for section in publishing if section.mid not in self._receivers
        }
        # All or nothing: what this offer makes is undone if the worker
        # refuses any of it (a fingerprint, a mid, an SSRC it finds wrong),
        # and a corrected offer starts again from where this one did.
        opened = self._transport is None
        made: dict[str, RtpReceiver] = {}
        ours, our_local = self._out, self._local
        if glare:
            self._rollback()
        try:
            if self._transport is None:
                if self._peer.capabilities is None:
                    await self._peer.setCapabilities(ortc.capabilities_of(media))
                await self._open_transport(enable_sctp=any(ortc.is_data_section(section) for section in media))
            if unsettled:
                await self._connect(setup, fingerprints)
            assert self._transport is not None
            for section in publishing:
                assert section.mid is not None
                if section.mid in self._receivers:
                    continue
                made[section.mid] = self._peer.RtpReceiver(section.kind, self._transport)
                await made[section.mid].receive(parameters[section.mid])
        except BaseException:
            for receiver in made.values():
                receiver.close()
            if opened and self._transport is not None:
                transport, self._transport = self._transport, None
                transport.close()
                # Senders attached to it meanwhile go back to waiting for one.
                self._senders = [sender for sender in self._senders if sender.transport is not None]
            if glare:
                self._out, self._local = ours, our_local
                self._set_signaling_state("have-local-offer")
            raise
        self._receivers.update(made)
        # A section that stopped sending (or was ended) ends its receiver.
        sending = {section.mid for section in publishing}
        for mid in [mid for mid in self._receivers if mid not in sending]:
            self._receivers.pop(mid).close()
        # A section of ours the endpoint ended (a transceiver it stopped): its
        # stream stops; it is offered again only if its m-line is reused.
        ended = {section.mid for section in offer.media if section.port == 0}
        for mid, sender in self._sending_sections().items():
            if mid in ended and sender.active:
                try:
                    await sender.disable()
                except InvalidStateError:
                    pass  # closed meanwhile: stopped all the same
        await self._place_senders(media)
        self._offer = offer
        self._chosen = chosen
        self._remote = remote
        # An offer made here before this one knows nothing of it: gone.
        self._out = None
        self._set_signaling_state("have-remote-offer")
        for sender in self._peer.rtpSenders:
            if sender.transport is None:
                self._on_sender(sender)

    def _sending_sections(self) -> dict[str, RtpSender]:
        """The open senders on this connection's transport, by mid."""
        return {sender.rtpParameters["mid"]: sender for sender in self._senders if sender.transport is not None and not sender.closed}

    async def _open_transport(self, enable_sctp: bool = False) -> None:
        """The peer's transport for this connection; with SCTP when the
        offer has a data-channel section (its channels join the room's relay)."""
        self._transport = await self._peer.createTransport(enableSctp=enable_sctp)
        self._transport.on("icestatechange", lambda state: self._update_connection_state())
        self._transport.on("dtlsstatechange", lambda state: self._update_connection_state())
        self._transport.on("close", lambda *_: self._update_connection_state())

    async def _connect(self, setup: str, fingerprints: list[tuple[str, str]]) -> None:
        """Gives the transport the endpoint's DTLS role (its ``a=setup``) and fingerprints."""
        assert self._transport is not None
        # The endpoint's 'actpass' or 'passive' makes this side the DTLS client.
        role = "client" if setup == "active" else "server"
        await self._transport.setRemoteDtlsParameters(
            {"role": role, "fingerprints": [{"algorithm": algorithm, "value": value} for algorithm, value in fingerprints]}
        )
        self._setup = "passive" if setup == "active" else "active"

    async def _place_senders(self, media: list[sdp.MediaSection]) -> None:
        """Puts the peer's senders that have no transport yet on the offer's
        ``recvonly``/``sendrecv`` sections of their kind that offer their
        codec at the payload type they send, oldest sender first."""
        assert self._transport is not None
        async with self._placing:
            await self._place_unattached(media)

    async def _place_unattached(self, media: list[sdp.MediaSection]) -> None:
        assert self._transport is not None
        taken = self._sending_sections()
        free = [
            section
            for section in media
            if section.kind in ("audio", "video") and section.direction in ("recvonly", "sendrecv") and section.mid not in taken
        ]
        for sender in self._peer.rtpSenders:
            if sender.transport is not None or sender.closed:
                continue
            section = next((s for s in free if s.kind == sender.kind and ortc.offers_codec(s, sender.rtpParameters)), None)
            if section is None or section.mid is None:
                continue
            try:
                await sender._set_transport(self._transport, mid=section.mid)
                if sender._paused:  # paused while it waited for a section (a failed offer's)
                    await sender.enable()
            except (InvalidStateError, ValueError) as error:
                _logger.debug("sender %s not placed on section %s: %s", sender.id, section.mid, error)
                continue
            free.remove(section)
            self._track(sender)

    async def createAnswer(self) -> RTCSessionDescription:
        """The answer to the offer applied last: ``a=ice-lite``, BUNDLE, the
        transport's candidates and fingerprint, this side's ``a=setup``."""
        async with self._operation():
            return await self._create_answer()

    async def _create_answer(self) -> RTCSessionDescription:
        self._check_open()
        if self._signaling_state != "have-remote-offer" or self._offer is None or self._transport is None:
            raise InvalidStateError(f"there is no offer to answer (signalingState {self._signaling_state!r:.80})")
        transport = self._transport_parameters()
        extensions = self._peer.room.rtpCapabilities["headerExtensions"]
        senders = self._sending_sections()

        def sending(offered: sdp.MediaSection) -> tuple[dict[str, Any], tuple[str, str]] | None:
            sender = senders.get(offered.mid or "") if offered.direction in ("recvonly", "sendrecv") else None
            return None if sender is None else (sender.rtpParameters, self._msid(sender))

        sections = [
            ortc.answered(offered, self._chosen.get(offered.mid, []), offered.mid in self._receivers, sending(offered), transport, extensions)
            for offered in self._offer.media
        ]
        # Two-byte header extensions (a dependency descriptor with its structure) where the offer accepts them.
        answer = self._description(sections, allow_mixed=self._offer.has("extmap-allow-mixed") or any(s.has("extmap-allow-mixed") for s in self._offer.media))
        self._last_answer = RTCSessionDescription(sdp=sdp.write(answer), type="answer")
        return self._last_answer

    async def createOffer(self) -> RTCSessionDescription:
        """An offer with the sections agreed so far and a ``sendonly``
        section for each sender not yet in one (a closed sender's
        ``sendonly`` section is ended, port 0; its ``sendrecv`` one goes on
        receiving). In 'stable' only. Made before any remote description, it
        opens the conversation: the transport (this side ``a=setup:actpass``),
        with the peer's capabilities or else the room's. InvalidStateError
        if there is nothing to offer yet."""
        async with self._operation():
            return await self._create_offer()

    async def _create_offer(self) -> RTCSessionDescription:
        self._check_open()
        if self._signaling_state != "stable":
            raise InvalidStateError(f"an offer cannot be made in signalingState {self._signaling_state!r:.80}")
        if self._transport is None:
            # Nothing is made until there is something to offer: a transport
            # opened for nothing would take no DTLS role from a later offer.
            if self._peer.capabilities is None:
                await self._peer.setCapabilities(self._peer.room.rtpCapabilities)
            if not any(sender.transport is None and not sender.closed for sender in self._peer.rtpSenders):
                self._offer_wanted = True
                raise InvalidStateError("there is nothing to offer: the peer has no stream to receive yet (negotiationneeded fires when it has)")
            await self._open_first()
        transport = self._transport_parameters()
        open_mids = {sender.rtpParameters["mid"] for sender in self._senders if not sender.closed}
        sections = []
        for section in self._agreed:
            if section.kind in ("audio", "video") and section.port != 0 and section.mid not in open_mids and section.direction in ("sendonly", "sendrecv"):
                # Its stream is gone: a sendonly section ends, a sendrecv one only receives.
                if section.direction == "sendonly" or section.mid not in self._receivers:
                    section = ortc.rejected_section(section, transport)
                else:
                    section = ortc.without_stream(section, "recvonly")
            sections.append(section)
        agreed_mids = {section.mid for section in self._agreed}
        for sender in self._senders:
            if sender.closed or sender.rtpParameters["mid"] in agreed_mids:
                continue
            sections.append(ortc.sender_section(sender.rtpParameters, sender.kind, *self._msid(sender), transport))
        if not sections:
            raise InvalidStateError("there is nothing to offer: the peer has no stream to receive yet")
        offer = self._description(sections)
        self._out = OfferOut(offer, RTCSessionDescription(sdp=sdp.write(offer), type="offer"))
        return self._out.description

    async def _open_first(self) -> None:
        """A server-first conversation: the transport, with the peer's
        capabilities (set by the caller), and every sender on it."""
        await self._open_transport()
        self._setup = "actpass"
        for sender in self._peer.rtpSenders:
            if sender.transport is None and not sender.closed:
                self._track(sender)
                await self._attach(sender)

    def _msid(self, sender: RtpSender) -> tuple[str, str]:
        """``a=msid``: the publishing peer's id and the receiver's: the
        endpoint groups a publisher's audio and video into one stream."""
        receiver = sender.associatedRtpReceiver
        return receiver.peer.id, receiver.id

    async def setLocalDescription(self, description: RTCSessionDescription | dict[str, Any] | None = None) -> None:
        """Makes an answer or an offer made here the local description. With
        no argument: the answer or offer created last for this state (one is
        created if there is none)."""
        local = None if description is None else RTCSessionDescription.of(description)
        async with self._operation():
            await self._set_local_description(local)

    async def _set_local_description(self, local: RTCSessionDescription | None) -> None:
        self._check_open()
        if local is not None and local.type == "rollback":
            return self._rollback()
        if local is None and self._signaling_state == "have-remote-offer":
            local = self._last_answer or await self._create_answer()
        elif local is None:
            local = self._out.description if self._out is not None else await self._create_offer()
        if local.type == "offer" and self._signaling_state == "stable" and self._out is not None:
            if local.sdp != self._out.description.sdp:
                raise InvalidStateError("an offer set here is the one createOffer() made last")
            self._out.before, self._local = self._local, local
            self._set_signaling_state("have-local-offer")
            return
        if local.type != "answer" or self._signaling_state != "have-remote-offer":
            raise InvalidStateError(f"a {local.type} cannot be set in signalingState {self._signaling_state!r:.80}")
        self._agreed = sdp.parse(local.sdp).media
        self._local = local
        self._last_answer = None
        # Back in 'stable' with no offer of ours out: what the answer left
        # unnegotiated fires negotiationneeded again (W3C), even if it fired
        # before (an offer made for it then met the endpoint's offer and failed).
        self._negotiation.clear()
        self._set_signaling_state("stable")
        self._check_negotiation()

    @contextlib.asynccontextmanager
    async def _operation(self) -> AsyncIterator[None]:
        """One link of the operations chain. Once out of it, what came due
        meanwhile is looked at (negotiationneeded is held back while an
        operation runs), the failed ones included."""
        try:
            async with self._operations:
                yield
        except BaseException:
            self._negotiation.clear()  # what it fired for is looked at again
            raise
        finally:
            if self._signaling_state != "closed":
                self._check_negotiation()

    def _rollback(self) -> None:
        """Back to 'stable' from an offer made here that no answer came for
        (W3C's rollback). A remote offer applied is not rolled back: its
        receivers exist; answer it."""
        if self._signaling_state != "have-local-offer":
            raise InvalidStateError(f"a rollback is of an offer made here, not in signalingState {self._signaling_state!r:.80}")
        assert self._out is not None
        self._local, self._out = self._out.before, None
        self._negotiation.clear()
        self._set_signaling_state("stable")
        self._check_negotiation()

    async def _apply_answer(self, remote: RTCSessionDescription) -> None:
        if self._signaling_state != "have-local-offer" or self._out is None:
            raise InvalidStateError(f"an answer cannot be applied in signalingState {self._signaling_state!r:.80}")
        answer = sdp.parse(remote.sdp)
        offered = self._out.offer.media
        if [section.mid for section in answer.media] != [section.mid for section in offered]:
            raise ValueError("the answer's sections (mids) are not the offer's, in the offer's order")
        if self._setup == "actpass":
            # The answer to an offer made first: the endpoint's DTLS role and fingerprint.
            first = next((section for section in answer.media if section.port != 0), None)
            if first is None:
                raise ValueError("the answer refuses every section")
            fingerprints = first.fingerprints() or answer.fingerprints()
            if not fingerprints:
                raise ValueError(f"SDP line {first.line}: the answer has no a=fingerprint")
            setup = first.value("setup") or answer.value("setup")
            if setup not in ("active", "passive"):
                raise ValueError(f"SDP line {first.line}: an answer's a=setup is active or passive, not {setup!r:.80}")
            await self._connect(setup, fingerprints)
            # Later offers keep the role now settled.
            offered = [ortc.with_setup(section, self._setup) for section in offered]
        # What the endpoint refused is agreed as ended (port 0): its m-line may be reused.
        offered = [dataclasses.replace(section, port=0) if answered.port == 0 else section for section, answered in zip(offered, answer.media)]
        accepted = {
            section.mid
            for section, answered in zip(offered, answer.media)
            if section.direction == "sendonly" and answered.port != 0 and answered.direction in ("recvonly", "sendrecv")
        }
        # A sender flows once the endpoint knows its section (and starts from a keyframe).
        for sender in self._senders:
            if sender.rtpParameters["mid"] in accepted and not sender.closed and not sender.active:
                await sender.enable()
        # A closed sender whose section no longer sends is done with.
        sending = {s.mid for s in offered if s.port != 0 and s.direction in ("sendonly", "sendrecv")}
        self._senders = [s for s in self._senders if not (s.closed and s.rtpParameters["mid"] not in sending)]
        self._agreed = offered
        self._out = None
        self._remote = remote
        self._negotiation.clear()
        self._set_signaling_state("stable")
        self._check_negotiation()

    def _track(self, sender: RtpSender) -> None:
        """A sender of this connection from now on: its closing may need a new offer."""
        if sender in self._senders:
            return
        self._senders.append(sender)
        sender.on("close", lambda error: self._check_negotiation())

    def _on_sender(self, sender: RtpSender) -> None:
        if self._transport is None and self._offer_wanted and self._signaling_state == "stable":
            self._negotiation.need()
        if self._transport is None or self._signaling_state == "closed" or sender in self._senders:
            return
        self._track(sender)
        task = asyncio.ensure_future(self._attach(sender))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attach(self, sender: RtpSender) -> None:
        # A sender that appears while an offer is applied may be placed in
        # its answer (_place_senders) or attached here, not both: the one
        # that goes first wins, and a placed sender is never paused.
        async with self._placing:
            await self._attach_unplaced(sender)

    async def _attach_unplaced(self, sender: RtpSender) -> None:
        transport = self._transport
        if transport is None or transport.closed or sender.closed or sender.transport is not None:
            return
        try:
            # Paused until the endpoint accepted a section for it: media on
            # a mid it does not know yet would be misrouted (aiortc binds an
            # unknown SSRC to a receiver by payload type).
            await sender.disable()
            await sender.setTransport(transport)
        except (InvalidStateError, ValueError) as error:
            _logger.debug("sender %s not attached: %s", sender.id, error)
            return
        self._check_negotiation()

    def _check_negotiation(self) -> None:
        """``negotiationneeded`` when, in 'stable', a sender has no section
        yet or a closed one still has its section."""
        if self._signaling_state != "stable" or self._out is not None:
            return  # an offer made here (set or about to be) carries what is missing
        if not self._agreed:
            # Nothing agreed yet: needed only once an offer of ours opened the
            # transport (server first) and was rolled back, its senders waiting.
            if self._transport is not None and self._setup == "actpass" and any(not sender.closed for sender in self._senders):
                self._negotiation.need()
            return
        # A sender whose section the endpoint ended (port 0) is not missing: it
        # was refused, and offering it again there would be refused again.
        agreed = {section.mid for section in self._agreed}
        sending = {section.mid for section in self._agreed if section.port != 0 and section.direction in ("sendonly", "sendrecv")}
        mids = {sender.rtpParameters["mid"]: sender for sender in self._senders if sender.transport is not None or sender.closed}
        missing = any(mid not in agreed for mid, sender in mids.items() if not sender.closed)
        stale = any(mid in sending for mid, sender in mids.items() if sender.closed)
        if missing or stale:
            self._negotiation.need()

    def _transport_parameters(self) -> dict[str, Any]:
        assert self._transport is not None
        return {
            "iceLocalParameters": self._transport.iceLocalParameters,
            "iceLocalCandidates": self._transport.iceLocalCandidates,
            "dtlsLocalParameters": self._transport.dtlsLocalParameters,
            "sctpParameters": self._transport.sctpParameters,
            "setup": self._setup,
        }

    def _description(self, sections: list[sdp.MediaSection], allow_mixed: bool = True) -> sdp.SessionDescription:
        description = sdp.SessionDescription(origin=f"- {self._session_id} {self._session_version} IN IP4 127.0.0.1")
        self._session_version += 1
        bundled = [section.mid or "" for section in sections if section.port != 0]
        description.attributes = [
            sdp.Attribute("ice-lite"),
            sdp.Attribute("group", " ".join(["BUNDLE", *bundled])),
            sdp.Attribute("msid-semantic", " WMS *"),
            *([sdp.Attribute("extmap-allow-mixed")] if allow_mixed else []),
        ]
        description.media = sections
        return description

    def close(self) -> None:
        """Closes the connection and its Peer (its transport, receivers and
        senders with it). Synchronous and idempotent."""
        if self._signaling_state == "closed":
            return
        self._peer.close()
        self._closed_with_peer()

    def _closed_with_peer(self) -> None:
        self._set_signaling_state("closed")
        self._set_connection_state("closed")

    def _check_open(self) -> None:
        if self._signaling_state == "closed":
            raise InvalidStateError("the RTCPeerConnection is closed")
        if self._peer.closed:
            raise InvalidStateError(f"peer {self._peer.name} is closed")

    def _set_signaling_state(self, state: str) -> None:
        if state != self._signaling_state:
            self._signaling_state = state
            self.emit("signalingstatechange")

    def _update_connection_state(self) -> None:
        transport = self._transport
        if transport is None or self._signaling_state == "closed":
            return
        if transport.closed or transport.dtlsState == "closed":
            state = "closed"
        elif transport.dtlsState == "failed":
            state = "failed"
        elif transport.dtlsState == "connected":
            state = "disconnected" if transport.iceState == "disconnected" else "connected"
        elif transport.iceState in ("connected", "completed") or transport.dtlsState == "connecting":
            state = "connecting"
        else:
            state = "new"
        self._set_connection_state(state)

    def _set_connection_state(self, state: str) -> None:
        if state != self._connection_state:
            self._connection_state = state
            self.emit("connectionstatechange")

    create_answer = createAnswer
    create_offer = createOffer
    set_local_description = setLocalDescription
    set_remote_description = setRemoteDescription
    connection_state = connectionState
    local_description = localDescription
    remote_description = remoteDescription
    signaling_state = signalingState
