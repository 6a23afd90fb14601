"""``RTCPeerConnection``: the server side of a W3C peer connection (unified
plan, BUNDLE, ICE-lite), bound to a :class:`mediasoup.Peer`.

The endpoint offers; :meth:`RTCPeerConnection.setRemoteDescription` turns the
offer into the peer's capabilities, one transport for every section, and an
``RtpReceiver`` for each section that sends audio or video;
:meth:`RTCPeerConnection.createAnswer` writes the answer. Sections the
endpoint only receives on are answered ``inactive`` for now: the other peers'
streams reach it through server-made offers (``negotiationneeded``), which
come next with data channels.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from .._events import EventEmitter
from ..errors import InvalidStateError
from . import ortc, sdp

if TYPE_CHECKING:
    from ..peer import Peer
    from ..rtp_receiver import RtpReceiver
    from ..transport import Transport

__all__ = ["RTCPeerConnection", "RTCSessionDescription"]

_TYPES = ("offer", "answer", "pranswer", "rollback")


class RTCSessionDescription:
    """``{'type', 'sdp'}`` as W3C defines it: ``RTCSessionDescription(sdp=..., type=...)``."""

    def __init__(self, sdp: str, type: str) -> None:
        if not isinstance(sdp, str):
            raise TypeError(f"sdp must be a str, not {_type_name(sdp)}")
        if type not in _TYPES:
            raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {type!r}")
        self.sdp = sdp
        self.type = type

    @classmethod
    def of(cls, description: RTCSessionDescription | dict[str, Any]) -> RTCSessionDescription:
        """A description from itself or from a ``{'type', 'sdp'}`` dict (what browsers send as JSON)."""
        if isinstance(description, RTCSessionDescription):
            return description
        if not isinstance(description, dict):
            raise TypeError(f"a description must be an RTCSessionDescription or a dict, not {_type_name(description)}")
        return cls(sdp=description.get("sdp"), type=description.get("type"))  # type: ignore[arg-type]

    def toJSON(self) -> dict[str, str]:
        return {"type": self.type, "sdp": self.sdp}

    def __repr__(self) -> str:
        return f"<RTCSessionDescription type={self.type} {len(self.sdp)} bytes>"

    to_json = toJSON


def _type_name(value: object) -> str:
    return type(value).__name__


class RTCPeerConnection(EventEmitter):
    """The server side of ``peer``'s WebRTC connection.

    Events: ``signalingstatechange()``, ``connectionstatechange()``.
    """

    def __init__(self, peer: Peer) -> None:
        super().__init__()
        from ..peer import Peer

        if not isinstance(peer, Peer):
            raise TypeError(f"peer must be a Peer, not {_type_name(peer)}")
        if peer.closed:
            raise InvalidStateError(f"peer {peer.name} is closed")
        self._peer = peer
        self._transport: Transport | None = None
        self._receivers: dict[str, RtpReceiver] = {}
        self._local: RTCSessionDescription | None = None
        self._remote: RTCSessionDescription | None = None
        self._offer: sdp.SessionDescription | None = None
        self._signaling_state = "stable"
        self._connection_state = "new"
        self._session_id = random.randrange(1, 2**62)
        self._session_version = 0

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
        """'stable', 'have-remote-offer' or 'closed'."""
        return self._signaling_state

    @property
    def connectionState(self) -> str:
        """'new', 'connecting', 'connected', 'failed' or 'closed', from the transport's ICE and DTLS."""
        return self._connection_state

    async def setRemoteDescription(self, description: RTCSessionDescription | dict[str, Any]) -> None:
        """Applies the endpoint's offer: capabilities, transport, receivers.

        Raises ValueError for SDP that does not parse or lacks what WebRTC
        needs (naming the line), InvalidStateError out of turn or closed.
        """
        remote = RTCSessionDescription.of(description)
        self._check_open()
        if remote.type != "offer":
            raise ValueError(f"only offers are supported from the endpoint for now, not {remote.type!r}")
        if self._signaling_state != "stable":
            raise InvalidStateError(f"an offer cannot be applied in signalingState {self._signaling_state!r}")
        offer = sdp.parse(remote.sdp)
        media = [section for section in offer.media if section.port != 0]
        if not media:
            raise ValueError("the offer has no media section with a port")
        first = media[0]
        if not (first.value("ice-ufrag") or offer.value("ice-ufrag")) or not (first.value("ice-pwd") or offer.value("ice-pwd")):
            raise ValueError(f"SDP line {first.line}: the first media section has no a=ice-ufrag / a=ice-pwd")
        fingerprints = first.fingerprints() or offer.fingerprints()
        if not fingerprints:
            raise ValueError(f"SDP line {first.line}: the first media section has no a=fingerprint (nor the session)")
        setup = first.value("setup") or offer.value("setup") or "actpass"
        if setup not in ("actpass", "active", "passive"):
            raise ValueError(f"SDP line {first.line}: a=setup:{setup} must be actpass, active or passive")
        room_codecs = self._peer.room.rtpCapabilities["codecs"]
        chosen = {section.mid: ortc.chosen_codecs(section, room_codecs) for section in media if section.kind in ("audio", "video")}
        publishing = [s for s in media if s.kind in ("audio", "video") and s.direction in ("sendrecv", "sendonly") and chosen[s.mid]]
        parameters = {section.mid: ortc.receive_parameters(section, chosen[section.mid]) for section in publishing}
        if self._transport is None:
            if self._peer.capabilities is None:
                await self._peer.setCapabilities(ortc.capabilities_of(media))
            self._transport = await self._peer.createTransport()
            self._transport.on("icestatechange", lambda state: self._update_connection_state())
            self._transport.on("dtlsstatechange", lambda state: self._update_connection_state())
            # The endpoint's 'actpass' or 'passive' makes this side the DTLS client.
            role = "client" if setup == "active" else "server"
            await self._transport.setRemoteDtlsParameters(
                {"role": role, "fingerprints": [{"algorithm": algorithm, "value": value} for algorithm, value in fingerprints]}
            )
        for section in publishing:
            assert section.mid is not None
            if section.mid in self._receivers:
                continue
            receiver = self._peer.RtpReceiver(section.kind, self._transport)
            await receiver.receive(parameters[section.mid])
            self._receivers[section.mid] = receiver
        self._offer = offer
        self._remote = remote
        self._set_signaling_state("have-remote-offer")

    async def createAnswer(self) -> RTCSessionDescription:
        """The answer to the offer applied last: ``a=ice-lite``, BUNDLE, the
        transport's candidates and fingerprint, ``a=setup:active``."""
        self._check_open()
        if self._signaling_state != "have-remote-offer" or self._offer is None or self._transport is None:
            raise InvalidStateError(f"there is no offer to answer (signalingState {self._signaling_state!r})")
        transport = {
            "iceLocalParameters": self._transport.iceLocalParameters,
            "iceLocalCandidates": self._transport.iceLocalCandidates,
            "dtlsLocalParameters": self._transport.dtlsLocalParameters,
        }
        room = self._peer.room.rtpCapabilities
        answer = sdp.SessionDescription(origin=f"- {self._session_id} {self._session_version} IN IP4 127.0.0.1")
        self._session_version += 1
        accepted = []
        for offered in self._offer.media:
            codecs = ortc.chosen_codecs(offered, room["codecs"]) if offered.kind in ("audio", "video") and offered.port else []
            if not codecs:
                answer.media.append(ortc.rejected_section(offered, transport))
                continue
            if offered.mid in self._receivers:
                direction = "recvonly"
            else:
                direction = "inactive"
            answer.media.append(ortc.answer_section(offered, codecs, direction, transport, room["headerExtensions"]))
            accepted.append(offered.mid or "")
        answer.attributes = [sdp.Attribute("ice-lite"), sdp.Attribute("group", " ".join(["BUNDLE", *accepted])), sdp.Attribute("msid-semantic", " WMS *")]
        return RTCSessionDescription(sdp=sdp.write(answer), type="answer")

    async def setLocalDescription(self, description: RTCSessionDescription | dict[str, Any] | None = None) -> None:
        """Makes the answer (``createAnswer()``'s when None) the local description."""
        self._check_open()
        local = await self.createAnswer() if description is None else RTCSessionDescription.of(description)
        if local.type != "answer" or self._signaling_state != "have-remote-offer":
            raise InvalidStateError(f"a {local.type} cannot be set in signalingState {self._signaling_state!r}")
        sdp.parse(local.sdp)
        self._local = local
        self._set_signaling_state("stable")

    def close(self) -> None:
        """Closes the transport (and with it the receivers it made). Idempotent."""
        if self._signaling_state == "closed":
            return
        if self._transport is not None:
            self._transport.close()
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
            state = "connected"
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
    set_local_description = setLocalDescription
    set_remote_description = setRemoteDescription
    connection_state = connectionState
    local_description = localDescription
    remote_description = remoteDescription
    signaling_state = signalingState
