"""One port per worker (`rtcPortPerWorker=True`): every transport of a worker
on its one UDP and one TCP port. The calls of test_forwarding (aiortc) and
test_transports (pymediasoup, ICE over TCP, ICE restart, hostile datagrams)
run again here on the shared port (this module's `options`), and mediasoup-client in
headless Chromium; the tests below check what is new: the port every
candidate announces, 500 transports on it, a closed transport's tuple, a
replacement worker, a port taken by another process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from typing import Any

import pytest

import mediasoup

from .chromium import run_driver
from .clients import StunOverTcp
from .conftest import LOOPBACK, eventually, process_alive
from . import test_mediasoup_client as mediasoup_client_tests
from .test_forwarding import (  # noqa: F401  (collected again, on the shared port)
    test_a_publisher_s_audio_and_video_are_decoded_by_two_subscribers,
    test_a_three_party_call_where_everyone_publishes_and_receives,
)
from .test_transports import (  # noqa: F401
    test_change_ufrag_pwd_restarts_ice,
    test_ice_over_tcp_with_rfc4571_framing,
    test_pymediasoup_send_and_receive_transports_connect,
    test_random_datagrams_on_transport_ports_do_not_hurt_the_worker,
    test_stun_with_a_wrong_password_is_ignored,
)


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports free for UDP and TCP on loopback."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65535:
            continue
        try:
            held = []
            for port in range(first, first + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    held.append(socket.socket(socket.AF_INET, kind))
                    held[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return first
    raise RuntimeError("no free ports")


@pytest.fixture
def options() -> dict[str, Any]:
    port = free_ports(1)
    return {"numWorkers": 1, "logLevel": "warn", **LOOPBACK, "rtcPortPerWorker": True, "rtcMinPort": port, "rtcMaxPort": port}


def _ports(transport: mediasoup.Transport) -> set[tuple[str, int]]:
    return {(candidate["protocol"], candidate["port"]) for candidate in transport.iceLocalCandidates}


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_every_transport_of_a_worker_announces_the_worker_s_port(options: dict[str, Any]) -> None:
    first = free_ports(2)
    options.update(numWorkers=2, rtcMinPort=first, rtcMaxPort=first + 1)
    async with mediasoup.Server(options) as server:
        assert (await server.dump())["settings"]["rtcPortPerWorker"] is True
        rooms = [await server.Room() for _ in range(2)]
        assert {room._channel.index for room in rooms} == {0, 1}
        for room in rooms:
            port = first + room._channel.index
            peer = await room.Peer("alice")
            transports = [await peer.createTransport() for _ in range(3)] + [await peer.createTransport(tcp=False)]
            for transport in transports[:3]:
                assert _ports(transport) == {("udp", port), ("tcp", port)}
            assert _ports(transports[3]) == {("udp", port)}
            worker = (await server.dump())["workers"][room._channel.id]
            assert worker["rtcPortPerWorker"] is True and worker["rtcMinPort"] == port


async def test_500_transports_share_the_port_and_closing_them_frees_no_fd_and_keeps_it(server: mediasoup.Server, options: dict[str, Any]) -> None:
    port = options["rtcMinPort"]
    pid = server._channels[0].pid
    room = await server.Room()
    fds_before = _open_fds(pid)
    peers = [await room.Peer(f"peer-{index}") for index in range(50)]
    transports = [await peer.createTransport() for peer in peers for _ in range(10)]
    assert len(transports) == 500 and all(_ports(t) == {("udp", port), ("tcp", port)} for t in transports)
    # No socket per transport: the worker's descriptors did not grow.
    assert _open_fds(pid) == fds_before
    # Each answers its own binding requests on the one port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        for transport in transports[::50]:
            udp.sendto(StunOverTcp(transport).binding_request(), ("127.0.0.1", port))
            assert udp.recv(2048)[:2] == b"\x01\x01"
    await eventually(lambda: all(t.iceState == "completed" for t in transports[::50]))
    for peer in peers:
        peer.close()
    await server.dump()
    assert _open_fds(pid) == fds_before
    # The port stays for the transports to come.
    peer = await room.Peer("late")
    late = await peer.createTransport(tcp=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        udp.sendto(StunOverTcp(late).binding_request(), ("127.0.0.1", port))
        assert udp.recv(2048)[:2] == b"\x01\x01"


async def test_a_closed_transport_s_client_reaches_nothing_and_others_on_its_socket_are_served(server: mediasoup.Server, options: dict[str, Any]) -> None:
    port = options["rtcMinPort"]
    room = await server.Room()
    peer = await room.Peer("alice")
    first, second = await peer.createTransport(tcp=False), await peer.createTransport(tcp=False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(StunOverTcp(first).binding_request(), ("127.0.0.1", port))
        assert udp.recv(2048)[:2] == b"\x01\x01"
        await eventually(lambda: first.iceState == "completed")
        # An RTP-looking datagram from that (learnt) tuple reaches the first
        # transport, which drops it: nothing comes back, nothing breaks.
        udp.sendto(b"\x80\x60" + os.urandom(100), ("127.0.0.1", port))
        first.close()
        await server.dump()
        before = (await server.getMetrics())[room._channel.id]["datagramsUnrouted"]
        udp.sendto(StunOverTcp(first).binding_request(), ("127.0.0.1", port))
        with pytest.raises(socket.timeout):
            udp.recv(2048)
        # ... and is counted in the worker's metrics, as is a stranger's datagram.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.sendto(b"\x80\x60" + os.urandom(100), ("127.0.0.1", port))
        for _ in range(40):
            metrics = (await server.getMetrics())[room._channel.id]
            if metrics["datagramsUnrouted"] >= before + 2:
                break
            await asyncio.sleep(0.05)
        assert metrics["datagramsUnrouted"] == before + 2, (before, metrics)
        # The same client socket now checks the second transport: it is its.
        udp.sendto(StunOverTcp(second).binding_request(), ("127.0.0.1", port))
        assert udp.recv(2048)[:2] == b"\x01\x01"
    await eventually(lambda: second.iceState == "completed")
    tuple_ = second.iceSelectedTuple
    assert tuple_ is not None and tuple_["localPort"] == port


async def test_a_replacement_worker_listens_on_the_dead_one_s_port(options: dict[str, Any]) -> None:
    async with mediasoup.Server(options) as server:
        died: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        server.on("workerdied", lambda worker_id, error: died.set_result(worker_id))
        room = await server.Room()
        peer = await room.Peer("alice")
        before = _ports(await peer.createTransport())
        victim = room._channel
        os.kill(victim.pid, signal.SIGKILL)
        await asyncio.wait_for(died, 5)
        await eventually(lambda: room.closed)
        replacement = await server.Room()
        assert replacement._channel.id != victim.id and process_alive(replacement._channel.pid)
        peer = await replacement.Peer("bob")
        transport = await peer.createTransport()
        assert _ports(transport) == before
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(2)
            udp.sendto(StunOverTcp(transport).binding_request(), ("127.0.0.1", options["rtcMinPort"]))
            assert udp.recv(2048)[:2] == b"\x01\x01"


async def test_a_port_another_process_holds_fails_the_server_clearly(options: dict[str, Any]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", options["rtcMinPort"]))
        server = mediasoup.Server(options)
        with pytest.raises(ValueError, match=f"cannot bind the worker's port {options['rtcMinPort']}"):
            await asyncio.wait_for(server, 10)
        assert server.closed


async def test_a_port_freed_within_two_seconds_is_taken(options: dict[str, Any]) -> None:
    # As when the worker of a server closed a moment before is still exiting.
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", options["rtcMinPort"]))
    asyncio.get_running_loop().call_later(0.5, squatter.close)
    async with mediasoup.Server(options) as server:
        room = await server.Room()
        peer = await room.Peer("alice")
        assert ("udp", options["rtcMinPort"]) in _ports(await peer.createTransport())

def test_mediasoup_client_in_chromium_sends_and_receives_on_the_worker_s_one_port() -> None:
    bundle = mediasoup_client_tests.BUNDLE
    missing = None if bundle.exists() else f"the mediasoup-client page is not built ({bundle})"
    pages = run_driver("mediasoup_client_in_chromium.py", "--port-per-worker", "vp8", "simulcast",
                       what="the mediasoup-client test on one port", missing=missing)
    # Four transports per case (each page's send and receive), one port for all.
    assert len(set(pages["ports"])) == 1 and len(pages["ports"]) == 2, pages["ports"]
    for case in ("vp8", "simulcast"):
        mediasoup_client_tests.test_two_mediasoup_client_pages_decode_each_other(pages, case)


async def test_a_server_started_right_after_another_closed_gets_its_port(options: dict[str, Any]) -> None:
    # close() does not wait for the workers to exit; the next server's
    # worker may ask for the port while the last one still holds it.
    # A busy worker (here: 300 transports) takes a while to exit.
    for _ in range(3):
        async with mediasoup.Server(options) as server:
            room = await server.Room()
            peer = await room.Peer("alice")
            transports = [await peer.createTransport() for _ in range(300)]
            assert _ports(transports[-1]) == {("udp", options["rtcMinPort"]), ("tcp", options["rtcMinPort"])}
