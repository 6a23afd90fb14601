"""Futures of Channel requests that nobody awaits."""

from __future__ import annotations

import asyncio
from typing import Any


def ignore_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieves the outcome once done, so asyncio does not warn that an
    exception was never retrieved (a fire-and-forget request, or one whose
    failure is reported another way)."""
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
