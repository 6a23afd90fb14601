"""Fixtures: real servers with real worker processes, on loopback only."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import mediasoup

# Media on loopback only: tests never bind the host's other interfaces.
LOOPBACK = {"rtcListenIPv4": "127.0.0.1", "rtcListenIPv6": False}


@pytest.fixture
def options() -> dict[str, Any]:
    return {"numWorkers": 1, "logLevel": "warn", **LOOPBACK}


@pytest.fixture
async def server(options: dict[str, Any]) -> AsyncIterator[mediasoup.Server]:
    server = mediasoup.Server(options)
    await server
    yield server
    server.close()


@pytest.fixture
async def http(server: mediasoup.Server) -> AsyncIterator[Any]:
    """The browser demo (mediasoup.demo.app: pages, WHIP/WHEP, /metrics)
    served on loopback for `server`, and a client session bound to it."""
    app = pytest.importorskip("mediasoup.demo.app")
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(app.application(server), host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits until `predicate()` holds; fails the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"still false after {timeout}s: {predicate}")
        await asyncio.sleep(0.02)


def worker_pids(server: mediasoup.Server) -> list[int]:
    return [channel.pid for channel in server._channels]


@pytest.fixture(autouse=True)
def _no_stray_workers() -> Any:
    """Every test leaves no worker of its own running once its servers closed."""
    before = set(_children())
    yield
    # Give closed workers their exit; anything left is a leak.
    for _ in range(100):
        left = [pid for pid in set(_children()) - before if process_alive(pid)]
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker processes left running: {left}")


def _children() -> list[int]:
    """Pids of this process's children, from /proc."""
    me = str(os.getpid())
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            children.append(int(entry))
    return children
