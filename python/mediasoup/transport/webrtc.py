"""``Transport``: a WebRTC transport of a peer (ICE-lite, DTLS, SRTP), over str0m."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._display import State, Stats
from ..errors import MediasoupError
from ._base import BaseTransport, TransportOwner

if TYPE_CHECKING:
    from .._channel import Channel


class Transport(BaseTransport):
    """What a WebRTC endpoint connects to; made by ``await peer.createTransport()``.

    Its parameters are what mediasoup-client and pymediasoup expect for
    ``createSendTransport``/``createRecvTransport``. Events:
    ``icestatechange(iceState)``, ``iceselectedtuplechange(iceSelectedTuple)``,
    ``dtlsstatechange(dtlsState)``, ``close(error)``.
    """

    def __init__(self, peer: TransportOwner, channel: Channel, transport_id: str, local: Mapping[str, Any]) -> None:
        super().__init__(peer, channel, transport_id)
        self._ice_local_parameters: dict[str, Any] = local["iceLocalParameters"]
        self._ice_local_candidates: list[dict[str, Any]] = local["iceLocalCandidates"]
        self._dtls_local_parameters: dict[str, Any] = local["dtlsLocalParameters"]
        self._sctp_parameters: dict[str, Any] | None = local.get("sctpParameters")
        self._ice_state = "new"
        self._ice_selected_tuple: dict[str, Any] | None = None
        self._dtls_state = "new"
        self._dtls_remote_cert: str | None = None
        channel.targets[transport_id] = self

    def _repr_state(self) -> str:
        return f"ice={self._ice_state} dtls={self._dtls_state}"

    def _repr_status(self) -> str:
        """The connection's state from ICE's and DTLS's (as W3C's ``connectionState``)."""
        if self._closed or "failed" in (self._ice_state, self._dtls_state):
            return "closed" if self._closed else "failed"
        if self._ice_state == "disconnected":
            return "disconnected"
        if self._dtls_state == "connected":
            return "connected"
        return "new" if self._ice_state == self._dtls_state == "new" else "connecting"

    def _repr_fields(self) -> list[tuple[str, object]]:
        selected = self._ice_selected_tuple
        return [
            *super()._repr_fields(),
            ("ice", State(self._ice_state)),
            ("dtls", State(self._dtls_state)),
            ("dtls role", self._dtls_local_parameters.get("role")),
            (
                "selected tuple",
                f"{selected['protocol']} {selected['localIP']}:{selected['localPort']} ⇄ {selected['remoteIP']}:{selected['remotePort']}"
                if selected
                else None,
            ),
            ("candidates", [f"{c['protocol']} {c['ip']}:{c['port']}" for c in self._ice_local_candidates]),
            ("sctp", self._sctp_parameters is not None),
        ]

    @property
    def iceRole(self) -> str:
        """Always 'controlled': the server is ICE-lite."""
        return "controlled"

    @property
    def iceLocalParameters(self) -> dict[str, Any]:
        """``{'usernameFragment', 'password', 'iceLite': True}``."""
        return copy.deepcopy(self._ice_local_parameters)

    @property
    def iceLocalCandidates(self) -> list[dict[str, Any]]:
        """Host candidates: ``{'foundation', 'priority', 'ip', 'protocol', 'port', 'type'}``, plus ``'tcpType': 'passive'`` on TCP."""
        return copy.deepcopy(self._ice_local_candidates)

    @property
    def iceState(self) -> str:
        """'new', 'connected', 'completed', 'disconnected' or 'closed'."""
        return self._ice_state

    @property
    def iceSelectedTuple(self) -> dict[str, Any] | None:
        """``{'localIP', 'localPort', 'remoteIP', 'remotePort', 'protocol'}`` once ICE selected a pair."""
        return copy.deepcopy(self._ice_selected_tuple)

    @property
    def dtlsLocalParameters(self) -> dict[str, Any]:
        """``{'role', 'fingerprints': [{'algorithm', 'value'}, …]}``, sha-256 first, sha-512 last."""
        return copy.deepcopy(self._dtls_local_parameters)

    @property
    def dtlsState(self) -> str:
        """'new', 'connecting', 'connected', 'failed' or 'closed'."""
        return self._dtls_state

    @property
    def dtlsRemoteCert(self) -> str | None:
        """The remote certificate (PEM) once DTLS connected."""
        return self._dtls_remote_cert

    @property
    def sctpParameters(self) -> dict[str, Any] | None:
        """``{'port', 'OS', 'MIS', 'maxMessageSize'}`` when SCTP is enabled, else None."""
        return copy.deepcopy(self._sctp_parameters)

    async def setRemoteDtlsParameters(self, dtlsParameters: Mapping[str, Any]) -> None:
        """The remote endpoint's DTLS role and fingerprint(s): starts DTLS.

        ``{'role'?: 'auto'|'client'|'server', 'fingerprint': {'algorithm', 'value'}}`` or
        ``{'role'?, 'fingerprints': [...]}``. Remote 'server', 'auto' or no role makes
        this side the client; remote 'client' makes it the server.
        """
        if not isinstance(dtlsParameters, Mapping):
            raise TypeError(f"dtlsParameters must be a dict, not {type(dtlsParameters).__name__}")
        answer: dict[str, Any] = await self._request(
            "transport.setRemoteDtlsParameters",
            {"transportId": self._id, "dtlsParameters": dict(dtlsParameters)},
        )
        self._dtls_local_parameters["role"] = answer["role"]

    async def setMaxBitrate(self, bitrate: int) -> None:
        """Caps the bitrate this transport receives from its endpoint (bits per second)."""
        if isinstance(bitrate, bool) or not isinstance(bitrate, int):
            raise TypeError(f"bitrate must be an int, not {type(bitrate).__name__}")
        if bitrate <= 0:
            raise ValueError(f"bitrate must be > 0, not {bitrate}")
        await self._request("transport.setMaxBitrate", {"transportId": self._id, "bitrate": bitrate})

    async def changeUfragPwd(self) -> dict[str, Any]:
        """ICE restart: new local username fragment and password; returns ``iceLocalParameters``."""
        parameters: dict[str, Any] = await self._request("transport.restartIce", {"transportId": self._id})
        self._ice_local_parameters = parameters
        return copy.deepcopy(parameters)

    async def getStats(self) -> Stats:
        """``[{'type': 'transport', 'bytesReceived', 'bytesSent', 'packetsReceived', …}]``."""
        return await super().getStats()

    def _on_notification(self, event: str, data: Any) -> None:
        if self._closed:
            return
        if event == "transport.iceStateChange":
            self._ice_state = data["iceState"]
            self.emit("icestatechange", self._ice_state)
        elif event == "transport.iceSelectedTupleChange":
            self._ice_selected_tuple = data["iceSelectedTuple"]
            self.emit("iceselectedtuplechange", copy.deepcopy(self._ice_selected_tuple))
        elif event == "transport.dtlsStateChange":
            self._dtls_state = data["dtlsState"]
            if data.get("dtlsRemoteCert"):
                self._dtls_remote_cert = data["dtlsRemoteCert"]
            self.emit("dtlsstatechange", self._dtls_state)
        elif event == "transport.closed":
            # The worker ended it; closing it there too gives its sockets and port back.
            self._close(MediasoupError(data.get("reason", "closed by the worker")), notify_worker=True)

    def _closing(self, error: BaseException | None) -> None:
        self._ice_state = "closed"
        self._dtls_state = "closed"
        super()._closing(error)

    ice_role = iceRole
    ice_local_parameters = iceLocalParameters
    ice_local_candidates = iceLocalCandidates
    ice_state = iceState
    ice_selected_tuple = iceSelectedTuple
    dtls_local_parameters = dtlsLocalParameters
    dtls_state = dtlsState
    dtls_remote_cert = dtlsRemoteCert
    sctp_parameters = sctpParameters
    set_remote_dtls_parameters = setRemoteDtlsParameters
    set_max_bitrate = setMaxBitrate
    change_ufrag_pwd = changeUfragPwd
    get_stats = getStats
