"""Futures of Channel requests that nobody awaits."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, TypeVar

from .errors import InvalidStateError

T = TypeVar("T")


class _Channel(Protocol):
    @property
    def closed(self) -> bool: ...

    def request(self, method: str, data: Any = None) -> asyncio.Future[Any]: ...


def ignore_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieves the outcome once done, so asyncio does not warn that an
    exception was never retrieved (a fire-and-forget request, or one whose
    failure is reported another way)."""
    future.add_done_callback(lambda done: done.cancelled() or done.exception())


async def made_or_undone(channel: _Channel, request: asyncio.Future[T], method: str, data: dict[str, Any]) -> T:
    """Awaits ``request``, which makes something in the worker. If the caller
    is cancelled meanwhile (``asyncio.wait_for``, a client gone), the request
    runs to its end all the same, and what it made is undone with the
    request ``method`` (``data``) once it succeeded: the worker keeps
    nothing that no Python object holds."""
    try:
        return await asyncio.shield(request)
    except asyncio.CancelledError:

        def undo(done: asyncio.Future[T]) -> None:
            if not done.cancelled() and done.exception() is None:
                request_unawaited(channel, method, data)

        request.add_done_callback(undo)
        raise


async def settled(request: asyncio.Future[Any] | None) -> None:
    """Waits until ``request`` (a call's, perhaps cancelled) is answered, and
    its undo sent, so that a call made again follows both: the worker takes
    requests in order. Its outcome is the earlier call's, not this one's."""
    if request is None:
        return
    # Through a done callback even when the request is done already: the
    # undo is one too, registered earlier, and the loop runs them in order
    # (asyncio.wait returned at once for a done request, before its undo
    # was sent, and the next call reached the worker first).
    after: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def done(_: object) -> None:
        if not after.done():
            after.set_result(None)

    request.add_done_callback(done)
    await after


def request_unawaited(channel: _Channel, method: str, data: dict[str, Any]) -> None:
    """Sends a request nobody awaits (a close of what the worker made for a
    call that ended otherwise), unless the worker is gone already: one that
    exits meanwhile takes nothing more (``InvalidStateError``), which is
    what the request asked for."""
    if channel.closed:
        return
    try:
        ignore_outcome(channel.request(method, data))
    except InvalidStateError:
        pass
