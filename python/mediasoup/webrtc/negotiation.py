"""The negotiation state an ``RTCPeerConnection`` keeps beside its
descriptions: the offer made here that is out (one record, whatever ends
it), and W3C's negotiation-needed flag."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from . import sdp
from .description import RTCSessionDescription

__all__ = ["NegotiationNeeded", "OfferOut"]


@dataclasses.dataclass
class OfferOut:
    """An offer made here that no answer has come for. ``createOffer()``
    makes it; ``setLocalDescription()`` sets it, keeping in ``before`` the
    local description it replaced (what a rollback restores); an answer, a
    rollback or the endpoint's own offer ends it."""

    offer: sdp.SessionDescription
    description: RTCSessionDescription
    before: RTCSessionDescription | None = None


class NegotiationNeeded:
    """W3C's negotiation-needed flag. :meth:`need` raises it and calls
    `fire` once, after the current task's work (needs coalesce), if
    `may_fire()` still holds then (else it lowers itself); raised, nothing
    fires again until :meth:`clear`: when the connection is back in
    'stable' after an answer or a rollback, or an operation failed."""

    def __init__(self, fire: Callable[[], object], may_fire: Callable[[], bool]) -> None:
        self._fire = fire
        self._may_fire = may_fire
        self._raised = False

    def need(self) -> None:
        if not self._raised:
            self._raised = True
            asyncio.get_running_loop().call_soon(self._fire_if_still_needed)

    def clear(self) -> None:
        self._raised = False

    def _fire_if_still_needed(self) -> None:
        if self._raised and self._may_fire():
            self._fire()
        else:
            self._raised = False
