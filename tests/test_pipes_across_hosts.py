"""A room spanning two servers on two "hosts": two network namespaces the
test makes, joined by a veth pair carrying 127.0.1.1 and 127.0.1.2 (never
another range), a real redis-server on host A. Host A's server hosts room
"stage" with an aiortc publisher, host B's room "hall" with a pymediasoup
subscriber; the registry places both and carries the pipe's messages, the
media crosses the veth over SRTP, host B decodes it. Then host A is killed
with SIGKILL: host B's subscriber sees its senders close with an error,
and the registry drops host A within its TTL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_placement import free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("redis.asyncio")


def unavailable() -> str | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "network namespaces need ip as root"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (scripts/test installs it)"
    return None


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


@pytest.fixture
def hosts() -> Iterator[tuple[str, str]]:
    """Two namespaces, `hA` (127.0.1.1) and `hB` (127.0.1.2), joined by a veth pair."""
    reason = unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the two-host pipe test must run in CI: {reason}")
        pytest.skip(reason)
    suffix = str(os.getpid() % 100_000)
    host_a, host_b, veth_a, veth_b = f"msA{suffix}", f"msB{suffix}", f"msa{suffix}", f"msb{suffix}"
    run("ip", "netns", "add", host_a)
    run("ip", "netns", "add", host_b)
    try:
        run("ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        for namespace, veth, mine, theirs in ((host_a, veth_a, "127.0.1.1", "127.0.1.2"), (host_b, veth_b, "127.0.1.2", "127.0.1.1")):
            run("ip", "link", "set", veth, "netns", namespace)
            inside = ("ip", "netns", "exec", namespace)
            # 127/8 on a link other than lo: allowed before the route is made.
            run(*inside, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", f"net.ipv4.conf.{veth}.route_localnet=1")
            run(*inside, "ip", "link", "set", "lo", "up")
            run(*inside, "ip", "link", "set", veth, "up")
            run(*inside, "ip", "addr", "add", f"{mine}/32", "dev", veth)
            # In the local table: its 127.0.0.0/8 on lo would take the other end's address.
            run(*inside, "ip", "route", "add", f"{theirs}/32", "dev", veth, "table", "local")
        yield host_a, host_b
    finally:
        run("ip", "netns", "delete", host_a)
        run("ip", "netns", "delete", host_b)


HOST = """
import asyncio, sys, time
sys.path.insert(0, {root!r})
import aioice.ice
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [{ip!r}]
import mediasoup, mediasoup.placement, redis.asyncio
from tests.clients import MediasoupClient, Subscriber, colour_track, tone_track

def say(*words):
    print(*words, flush=True)

async def main():
    redis_client = redis.asyncio.Redis.from_url({redis_url!r})
    registry = mediasoup.placement.Registry(redis_client, ttl=1.5)
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4={ip!r}, rtcListenIPv6=False) as server:
        registration = await registry.register(server, address={ip!r})
        room = await registration.Room({room!r})
        say("ready")
        await {role}(registry, registration, room)

async def publisher(registry, registration, room):
    alice = await room.Peer("alice")
    client = MediasoupClient(room, alice)
    await client.load()
    await alice.setCapabilities(client.device.rtpCapabilities.model_dump(exclude_none=True))
    await client.publish(await alice.createTransport(), [colour_track((40, 60, 200)), tone_track(0.3, 440.0)])
    while await registry.locate("hall") is None:
        await asyncio.sleep(0.1)
    pipe = await registration.pipeTo("stage", "hall")
    say("piped", len(pipe.streams))
    await asyncio.sleep(3600)

async def subscriber(registry, registration, room):
    bob = await room.Peer("bob")
    subscriber = Subscriber(room, bob)
    await subscriber.start()
    closed = []
    bob.on("newrtpsender", lambda sender: sender.on("close", lambda error: closed.append(error)))
    while subscriber.frames.get("video", 0) < 30 or subscriber.frames.get("audio", 0) < 50:
        await asyncio.sleep(0.05)
    say("decoded", subscriber.frames["video"], subscriber.frames["audio"])
    # Host A is killed now: the copies' senders close with an error, and
    # the registry drops host A within its TTL.
    while len(closed) < 2:
        await asyncio.sleep(0.05)
    say("closed", type(closed[0]).__name__, str(closed[0]).replace(" ", "_"))
    while any(entry["address"] != {ip!r} for entry in await registry.servers()):
        await asyncio.sleep(0.05)
    say("alone")
    await subscriber.close()

asyncio.run(main())
"""


def start_host(namespace: str, tmp_path: Path, **values: str) -> subprocess.Popen[str]:
    script = tmp_path / f"{values['role']}.py"
    script.write_text(textwrap.dedent(HOST.format(root=str(ROOT), **values)))
    return subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, str(script)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT,
    )  # fmt: skip


def read_line(process: subprocess.Popen[str], expected: str, timeout: float) -> list[str]:
    """The next line `process` prints, which must start with `expected`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    import select

    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            words = line.split()
            if words and words[0] == expected:
                return words
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    stderr = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"no {expected!r} line within {timeout} s: {stderr[-3000:]}")


def test_a_room_spans_two_hosts_through_an_srtp_pipe_and_survives_losing_one(hosts: tuple[str, str], tmp_path: Path) -> None:
    host_a, host_b = hosts
    port = free_tcp_port()
    redis = subprocess.Popen(
        ["ip", "netns", "exec", host_a, "redis-server", "--port", str(port), "--bind", "127.0.1.1", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    redis_url = f"redis://127.0.1.1:{port}/0"
    processes: list[subprocess.Popen[str]] = []
    try:
        time.sleep(0.3)
        hall = start_host(host_b, tmp_path, ip="127.0.1.2", redis_url=redis_url, room="hall", role="subscriber")
        processes.append(hall)
        read_line(hall, "ready", 60)
        stage = start_host(host_a, tmp_path, ip="127.0.1.1", redis_url=redis_url, room="stage", role="publisher")
        processes.append(stage)
        read_line(stage, "ready", 60)
        assert read_line(stage, "piped", 30)[1] in ("0", "1", "2")
        read_line(hall, "decoded", 60)
        started = time.monotonic()
        os.killpg(stage.pid, signal.SIGKILL)
        stage.wait(10)
        words = read_line(hall, "closed", 20)
        assert words[1] == "PlacementError" and "left_the_registry" in words[2], words
        read_line(hall, "alone", 10)
        assert time.monotonic() - started < 5.0
        hall.wait(30)
        assert hall.returncode == 0, hall.stderr.read() if hall.stderr else ""
    finally:
        for process in [*processes, redis]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
