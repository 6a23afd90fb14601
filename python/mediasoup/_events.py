"""Events with pyee semantics: ``on``, ``once``, ``off``, ``emit``.

Listeners may be plain functions or coroutine functions (run as tasks on the
running loop). A listener that raises is logged under ``mediasoup.events``
and never breaks the emitter or the other listeners.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from typing import Any, Callable, TypeVar

_logger = logging.getLogger("mediasoup.events")

Listener = TypeVar("Listener", bound=Callable[..., Any])


class EventEmitter:
    """The event methods every mediasoup object has."""

    def __init__(self) -> None:
        # (listener, once) pairs in registration order, per event.
        self._listeners: dict[str, list[tuple[Callable[..., Any], bool]]] = {}
        self._listener_tasks: set[asyncio.Task[Any]] = set()

    def on(self, event: str, listener: Listener | None = None) -> Any:
        """Calls ``listener(*args)`` on every ``event``; as ``@obj.on(event)``, a decorator."""
        if listener is None:
            return lambda fn: self.on(event, fn)
        self._add(event, listener, once=False)
        return listener

    def once(self, event: str, listener: Listener | None = None) -> Any:
        """Like :meth:`on`, for the next ``event`` only."""
        if listener is None:
            return lambda fn: self.once(event, fn)
        self._add(event, listener, once=True)
        return listener

    def off(self, event: str, listener: Callable[..., Any]) -> None:
        """Removes ``listener`` from ``event``; nothing if it was not there."""
        entries = self._listeners.get(event, [])
        for index, (registered, _) in enumerate(entries):
            if registered == listener:
                del entries[index]
                self._listener_removed(event)
                return

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """The listeners of ``event``, in registration order."""
        return [listener for listener, _ in self._listeners.get(event, [])]

    def emit(self, event: str, *args: Any) -> bool:
        """Calls the listeners of ``event``; True if there was any."""
        entries = self._listeners.get(event)
        if not entries:
            return False
        removed = False
        for entry in list(entries):
            listener, once = entry
            if once:
                # This registration only: the same function may also be registered with on().
                entries[:] = [other for other in entries if other is not entry]
                removed = True
            try:
                result = listener(*args)
            except Exception:
                _logger.exception("listener %r of %r event %r failed", listener, self, event)
                continue
            if result is not None and inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._listener_tasks.add(task)
                task.add_done_callback(functools.partial(self._listener_done, event))
        if removed:
            self._listener_removed(event)
        return True

    def _add(self, event: str, listener: Callable[..., Any], once: bool) -> None:
        if not isinstance(event, str):
            raise TypeError(f"event names are str, not {type(event).__name__}")
        if not callable(listener):
            raise TypeError(f"a listener must be callable, not {type(listener).__name__}")
        self._listeners.setdefault(event, []).append((listener, once))

    def _listener_removed(self, event: str) -> None:
        """A listener of ``event`` was removed (``off``, or a ``once`` that ran)."""

    def _listener_done(self, event: str, task: asyncio.Task[Any]) -> None:
        self._listener_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _logger.error(
                "coroutine listener of %r event %r failed", self, event, exc_info=task.exception()
            )
