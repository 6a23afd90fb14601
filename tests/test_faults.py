"""Faults a live server must take (issue #22): malformed input on every
port of a worker during a call, a worker killed with SIGKILL during calls,
an endpoint flooding data-channel messages toward an application whose
event loop is blocked, and 100 rooms × 4 peers created and closed 30
times, which must leave no file descriptor, port or memory behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
import socket
import struct
import time
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import MediasoupError

from .clients import Call, LossyRelay, StunOverTcp, call_in, colour_track, until, use_loopback_only
from .conftest import eventually, process_alive


def video_call(room: mediasoup.Room, subscriber_relay: LossyRelay | None = None) -> AbstractAsyncContextManager[Call]:
    """alice publishes a video (one colour, 30 frames a second) in `room`; bob's Subscriber decodes it."""
    return call_in(room, [colour_track((40, 160, 220))], subscriber_relay=subscriber_relay)


class FrameLog:
    """Samples a call's decoded frames every 20 ms, to find the longest wait for one."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.samples: list[tuple[float, int]] = []
        self._task = asyncio.ensure_future(self._sample())

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.samples.append((loop.time(), self.call.frames))
            await asyncio.sleep(0.02)

    def longest_gap(self, since: float) -> float:
        """The longest time, from `since` to the last sample, without a new frame."""
        changes = [since]
        for (at, count), (_, before) in zip(self.samples[1:], self.samples):
            if at > since and count != before:
                changes.append(at)
        changes.append(self.samples[-1][0])
        return max(later - earlier for earlier, later in zip(changes, changes[1:]))

    def stop(self) -> None:
        self._task.cancel()


# Malformed input.


def _rtp(rng: random.Random) -> bytes:
    """Version 2 RTP with random fields: CSRC counts, extensions and padding
    that may claim more than there is, a random payload."""
    csrcs, extension, padding = rng.randrange(16), rng.random() < 0.3, rng.random() < 0.2
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | csrcs
    packet = struct.pack("!BBHII", first, rng.randrange(256), rng.randrange(1 << 16), rng.randrange(1 << 32), rng.randrange(1 << 32))
    packet += rng.randbytes(4 * rng.randrange(csrcs + 1))
    if extension:
        packet += struct.pack("!HH", rng.choice([0xBEDE, 0x1000, rng.randrange(1 << 16)]), rng.randrange(1 << 16)) + rng.randbytes(4 * rng.randrange(4))
    packet += rng.randbytes(rng.randrange(1200))
    if padding:
        packet += bytes([rng.randrange(256)])
    return packet


def _rtcp(rng: random.Random) -> bytes:
    """RTCP (sender and receiver reports, feedback…) whose length fields may
    lie, sometimes two in a compound packet."""
    packets = b""
    for _ in range(rng.choice([1, 1, 2])):
        body = rng.randbytes(4 * rng.randrange(12))
        length = len(body) // 4 + 1 if rng.random() < 0.5 else rng.randrange(1 << 16)
        packets += struct.pack("!BBHI", 0x80 | rng.randrange(32), rng.randrange(192, 224), length, rng.randrange(1 << 32)) + body
    return packets


def _dtls(rng: random.Random) -> bytes:
    """A DTLS record: a ClientHello-like handshake (the worker is the DTLS
    server of the subscriber's transport), or an alert, change-cipher-spec
    or application data record, in epochs 0, 1 or beyond."""
    content_type = rng.choice([20, 21, 22, 22, 23])
    if content_type == 22:
        hello = b"\xfe\xfd" + rng.randbytes(32) + b"\x00" + b"\x00" + struct.pack("!H", 4) + b"\xc0\x2b\xc0\x2f" + b"\x01\x00"
        hello += struct.pack("!H", 10) + b"\x00\x0e\x00\x05\x00\x02\x00\x01\x00" + rng.randbytes(1)  # use_srtp
        message_type = rng.choice([1, 1, 2, 11, 12, 14, 16, 20])
        body = hello if message_type == 1 else rng.randbytes(rng.randrange(200))
        length = len(body).to_bytes(3, "big")
        offset = (0 if rng.random() < 0.7 else rng.randrange(1 << 24)).to_bytes(3, "big")
        body = bytes([message_type]) + length + struct.pack("!H", rng.randrange(4)) + offset + length + body
    else:
        body = rng.randbytes(rng.randrange(300))
    epoch = rng.choice([0, 1, 2, 0xFFFF])
    return struct.pack("!BHH", content_type, rng.choice([0xFEFD, 0xFEFF, 0x0303]), epoch) + rng.randbytes(6) + struct.pack("!H", len(body)) + body


def hostile_datagrams(rng: random.Random, count: int, stun: list[bytes]) -> list[bytes]:
    """`count` datagrams of at most 1,500 bytes: random bytes; RTP, RTCP and
    DTLS as above, whole or cut anywhere; `stun` requests, cut anywhere."""
    datagrams = []
    for index in range(count):
        kind = index % 5
        if kind == 0:
            datagrams.append(rng.randbytes(rng.randrange(1500)))
            continue
        whole = [_rtp, _rtcp, _dtls][kind - 1](rng) if kind < 4 else rng.choice(stun)
        datagrams.append(whole[: rng.randrange(len(whole) + 1)] if rng.random() < 0.6 else whole)
    return [datagram[:1500] for datagram in datagrams]


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped for the UDP sockets bound to `port` (a full receive buffer)."""
    drops = 0
    with open("/proc/net/udp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                drops += int(fields[-1])
    return drops


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float) -> float:
    """Waits until the other side closes the connection; answers when (loop time)."""
    loop = asyncio.get_running_loop()
    try:
        while await asyncio.wait_for(reader.read(4096), timeout):
            pass
    except ConnectionResetError:
        pass
    return loop.time()


class Sink(asyncio.DatagramProtocol):
    """The plain transport's endpoint: counts the RTP packets it gets."""

    def __init__(self) -> None:
        self.rtp = 0

    def datagram_received(self, data: bytes, address: Any) -> None:
        if LossyRelay._is_rtp(data):
            self.rtp += 1


def sending_socket(transport: asyncio.DatagramTransport) -> socket.socket:
    """A socket sending from `transport`'s address (a duplicate of its own):
    asyncio's `sendto` on Python 3.11 skips empty datagrams, which are
    malformed input too."""
    duplicate = socket.fromfd(transport.get_extra_info("socket").fileno(), socket.AF_INET, socket.SOCK_DGRAM)
    duplicate.setblocking(False)
    return duplicate


async def send_paced(sends: list[tuple[socket.socket, bytes, int]]) -> None:
    """Sends each datagram to its port on 127.0.0.1, 50 at a time, letting
    the loop (and the call's media) run between: thousands in about a second."""
    for start in range(0, len(sends), 50):
        for sending, datagram, port in sends[start : start + 50]:
            while True:
                try:
                    sending.sendto(datagram, ("127.0.0.1", port))
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.001)
        await asyncio.sleep(0.004)


async def test_malformed_input_on_every_port_of_a_live_worker_stops_no_media(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """During a call, thousands of random, truncated and malformed STUN,
    DTLS, RTP and RTCP datagrams reach every UDP port of the worker (the
    publisher's and the subscriber's WebRTC transports, a plain transport
    forwarding the same video), from a stranger's socket, from the plain
    transport's endpoint and from the subscriber's own address; its TCP
    ports get garbage RFC 4571 frames, a frame announcing 65,535 bytes that
    never come, half a header, and 24 connections left idle. The worker
    counts what reached each transport, holds at most 8 waiting connections
    per transport and closes them after 5 s, and the video goes on.
    (Garbage from the publisher's own address is test_rtcp's
    test_malformed_packets_on_a_live_call_lose_nothing.) About 9 s."""
    use_loopback_only(monkeypatch)
    options.update(rtcMinPort=43000, rtcMaxPort=43099)
    loop = asyncio.get_running_loop()
    caplog.set_level(logging.ERROR, logger="mediasoup")
    relay = LossyRelay(loss=0.0, toward="client")
    async with mediasoup.Server(options) as server, video_call(await server.Room(), relay) as call:
        pid = server._channels[0].pid
        subscribing = call.subscriber.transport
        assert subscribing is not None
        # A plain transport forwarding the same video to a local endpoint.
        carol = await call.room.Peer("carol")
        plain = await carol.createPlainTransport()
        sink = Sink()
        endpoint, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
        await plain.connect(ip="127.0.0.1", port=endpoint.get_extra_info("sockname")[1])
        (plain_sender,) = carol.rtpSenders
        await plain_sender.setTransport(plain)
        await until(lambda: sink.rtp >= 10, 5, lambda: sink.rtp)

        ports = {
            "publishing": call.publishing.iceLocalCandidates[0]["port"],
            "subscribing": subscribing.iceLocalCandidates[0]["port"],
            "plain": plain.tuple["localPort"],
        }
        assert [c["protocol"] for c in call.publishing.iceLocalCandidates] == ["udp", "tcp"]
        assert [c["protocol"] for c in subscribing.iceLocalCandidates] == ["udp", "tcp"]
        tuples = (call.publishing.iceSelectedTuple, subscribing.iceSelectedTuple, plain.tuple)
        stats_before = {name: (await transport.getStats())[0] for name, transport in (("publishing", call.publishing), ("subscribing", subscribing), ("plain", plain))}
        drops_before = {name: udp_drops(port) for name, port in ports.items()}
        fds_before = open_fds(pid)
        log = FrameLog(call)
        started_at, frames_before, sink_before = loop.time(), call.frames, sink.rtp

        # UDP: a stranger sends to every port (its STUN carries each
        # transport's username fragment and a wrong password); the plain
        # transport's endpoint and the subscriber's address (through its
        # relay) send from where the worker expects them.
        rng = random.Random(22)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.1", 0))
        stranger.setblocking(False)
        assert relay.facing_server is not None
        as_endpoint, as_subscriber = sending_socket(endpoint), sending_socket(relay.facing_server)
        wrong = {name: [StunOverTcp(t, ufrag="mallory").binding_request(password="wrong-password") for _ in range(4)] for name, t in (("publishing", call.publishing), ("subscribing", subscribing))}
        sent = dict.fromkeys(ports, 0)
        sends: list[tuple[socket.socket, bytes, int]] = []
        for name, port in ports.items():
            for datagram in hostile_datagrams(rng, 1500, wrong.get(name, wrong["publishing"])):
                sends.append((stranger, datagram, port))
            sent[name] += 1500
        for datagram in hostile_datagrams(rng, 1000, wrong["publishing"]):
            sends.append((as_endpoint, datagram, ports["plain"]))
        sent["plain"] += 1000
        genuine = [StunOverTcp(subscribing).binding_request() for _ in range(4)]
        for datagram in hostile_datagrams(rng, 1000, genuine):
            # Requests with the right credentials, whole or cut, from the client's own address.
            sends.append((as_subscriber, datagram, ports["subscribing"]))
        sent["subscribing"] += 1000
        # A few datagrams over the 4,096 bytes any WebRTC packet fits in (read, not counted).
        for size in (4097, 9000, 65507):
            for port in ports.values():
                sends.append((stranger, rng.randbytes(size), port))
        rng.shuffle(sends)
        await send_paced(sends)
        udp_done_at, frames_at_udp_done = loop.time(), call.frames

        # TCP, on the publisher's transport's port: garbage frames, a frame
        # announcing 65,535 bytes that never come, half a header.
        tcp_port = call.publishing.iceLocalCandidates[1]["port"]
        garbage_reader, garbage_writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        tcp_frames = hostile_datagrams(rng, 300, wrong["publishing"])
        garbage_writer.write(b"".join(struct.pack("!H", len(frame)) + frame for frame in tcp_frames))
        await garbage_writer.drain()
        slowloris_reader, slowloris_writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        slowloris_writer.write(b"\xff\xff" + bytes(1000))
        half_reader, half_writer = await asyncio.open_connection("127.0.0.1", tcp_port)
        half_writer.write(b"\x05")
        opened_at = loop.time()
        # On the subscriber's transport's port: 24 connections left idle.
        idle = [await asyncio.open_connection("127.0.0.1", subscribing.iceLocalCandidates[1]["port"]) for _ in range(24)]
        closing = [asyncio.ensure_future(closed_by_peer(reader, 10)) for reader in (garbage_reader, slowloris_reader, half_reader)]
        closing_idle = [asyncio.ensure_future(closed_by_peer(reader, 10)) for reader, _ in idle]
        # The worker holds the 8 newest idle connections, not 24.
        await eventually(lambda: sum(task.done() for task in closing_idle) >= 16, 2)
        assert open_fds(pid) <= fds_before + 8 + 3
        idle_closed_at = await asyncio.gather(*closing_idle)
        tcp_closed_at = await asyncio.gather(*closing)
        for writer in (garbage_writer, slowloris_writer, half_writer, *(writer for _, writer in idle)):
            writer.close()
        # Unauthenticated connections are closed after 5 s.
        assert all(4.5 < at - opened_at < 8 for at in tcp_closed_at), [at - opened_at for at in tcp_closed_at]
        assert sorted(at - opened_at for at in idle_closed_at)[-1] < 8

        # The video went on during the flood, and goes on after it.
        flood_over_at, frames_after_flood, sink_after_flood = loop.time(), call.frames, sink.rtp
        await until(lambda: call.frames >= frames_after_flood + 30 and sink.rtp >= sink_after_flood + 30, 5, lambda: (call.frames, sink.rtp))
        log.stop()
        assert frames_at_udp_done - frames_before >= 10 * (udp_done_at - started_at) - 5, (frames_before, frames_at_udp_done, udp_done_at - started_at)
        assert frames_after_flood - frames_at_udp_done >= 10 * (flood_over_at - udp_done_at), (frames_at_udp_done, frames_after_flood)
        assert log.longest_gap(started_at) < 1.0
        assert sink_after_flood - sink_before >= 10 * (flood_over_at - started_at)

        # Same worker; the transports kept their state.
        assert server._channels[0].pid == pid and process_alive(pid)
        assert (call.publishing.iceSelectedTuple, subscribing.iceSelectedTuple, plain.tuple) == tuples
        assert call.publishing.dtlsState == subscribing.dtlsState == "connected"
        assert not (call.publishing.closed or subscribing.closed or plain.closed)
        await eventually(lambda: open_fds(pid) == fds_before, 3)

        # What reached each socket was counted (the kernel's drops aside).
        dropped = {name: udp_drops(port) - drops_before[name] for name, port in ports.items()}
        stats = {name: (await transport.getStats())[0] for name, transport in (("publishing", call.publishing), ("subscribing", subscribing), ("plain", plain))}
        for name in ("publishing", "subscribing"):
            expected = sent[name] - dropped[name] + (len(tcp_frames) if name == "publishing" else 0)
            assert stats[name]["packetsReceived"] - stats_before[name]["packetsReceived"] >= expected, (name, sent, dropped, stats)
        # A plain transport with no stream to receive discards every datagram
        # (but RTCP from its endpoint, which it reads as such).
        taken = ("packetsDiscarded", "rtcpPacketsReceived", "rtpPacketsReceived")
        assert sum(stats["plain"][key] - stats_before["plain"][key] for key in taken) == sent["plain"] - dropped["plain"], (sent, dropped, stats["plain"])
        assert stats["plain"]["rtpPacketsReceived"] == stats_before["plain"]["rtpPacketsReceived"]
        assert isinstance((await plain.dump())["lastDiscarded"], str)
        for each in (stranger, as_endpoint, as_subscriber):
            each.close()
        endpoint.close()
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


# A worker killed during calls.


async def test_a_worker_killed_during_a_call_ends_its_rooms_at_once_and_the_other_worker_s_call_loses_nothing(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers, a call on each. SIGKILL one: its room closes with an
    error naming the signal within a second, `workerdied` fires, a
    replacement starts and carries a new call; the other worker's call
    never waits a second for a frame, and loses no packet. About 4 s."""
    use_loopback_only(monkeypatch)
    options.update(numWorkers=2, rtcMinPort=43100, rtcMaxPort=43299)
    loop = asyncio.get_running_loop()
    async with mediasoup.Server(options) as server:
        doomed_room, surviving_room = await server.Room(), await server.Room()
        victim, survivor = doomed_room._channel, surviving_room._channel
        assert victim is not survivor
        async with video_call(doomed_room) as doomed, video_call(surviving_room) as surviving:
            closed: asyncio.Future[tuple[float, Any]] = loop.create_future()
            doomed_room.on("close", lambda error: closed.set_result((loop.time(), error)))
            died: asyncio.Future[tuple[float, str, Any]] = loop.create_future()
            server.on("workerdied", lambda worker_id, error: died.set_result((loop.time(), worker_id, error)))
            metrics_before = (await server.getMetrics())[survivor.id]
            log = FrameLog(surviving)
            await asyncio.sleep(0.5)
            killed_at, frames_at_kill = loop.time(), surviving.frames

            os.kill(victim.pid, signal.SIGKILL)
            closed_at, error = await asyncio.wait_for(closed, 5)
            died_at, worker_id, died_error = await asyncio.wait_for(died, 5)

            assert closed_at - killed_at < 1.0, closed_at - killed_at
            assert died_at - killed_at < 1.0, died_at - killed_at
            assert isinstance(error, MediasoupError) and "SIGKILL" in str(error), error
            assert worker_id == victim.id and died_error is error
            assert doomed.publishing.closed and doomed.subscriber.transport is not None and doomed.subscriber.transport.closed
            assert not surviving_room.closed and not server.closed

            # The replacement takes the dead worker's place and carries a new call.
            await eventually(lambda: server._channels[victim.index] is not victim and server._channels[victim.index].ready.done(), 10)
            replacement = server._channels[victim.index]
            assert replacement.pid != victim.pid and process_alive(replacement.pid) and not process_alive(victim.pid)
            fresh_room = await server.Room()
            assert fresh_room._channel is replacement
            async with video_call(fresh_room) as fresh:
                await until(lambda: fresh.frames >= 30, 10, lambda: fresh.frames)

            # The other worker's call went on throughout.
            log.stop()
            elapsed = loop.time() - killed_at
            assert surviving.frames - frames_at_kill >= 15 * elapsed, (surviving.frames, frames_at_kill, elapsed)
            assert log.longest_gap(killed_at - 0.5) < 1.0, log.longest_gap(killed_at - 0.5)
            metrics = (await server.getMetrics())[survivor.id]
            assert metrics["pid"] == survivor.pid and process_alive(survivor.pid)
            assert (metrics["inboundPacketsLost"], metrics["outboundPacketsLost"]) == (metrics_before["inboundPacketsLost"], metrics_before["outboundPacketsLost"])


# An application that stops reading while an endpoint floods it.


def peak_resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


async def test_a_flood_of_data_channel_messages_toward_a_blocked_application_is_bounded_and_told(
    server: mediasoup.Server, caplog: pytest.LogCaptureFixture
) -> None:
    """An endpoint (the load generator's str0m client, a process of its own)
    sends 32 KiB messages, 1,000 a second, to a peer whose
    ``datachannelmessage`` has a listener, while the application's event
    loop is blocked for 5 s (a slow handler, a blocking call): the
    extension stops reading the Channel past 4 MiB of notifications not
    run, the worker holds 16 MiB and drops the rest of the messages for
    Python (its outbox), both processes' memory stays bounded, an error
    record says what was dropped, and the messages flow again once the loop runs."""
    from bench.loadgen import Loadgen
    from bench.ours import _server_side

    loadgen = await Loadgen.start(threads=1)
    try:
        room = await server.Room()
        peer = await room.Peer("flooder")
        heard: list[int] = []
        peer.on("datachannelmessage", lambda label, data: heard.append(len(data)))
        transport = await peer.createTransport(tcp=False, enableSctp=True)
        flow = {"label": "chat", "rate": 1000, "size": 32 * 1024}
        connected = loadgen.connect("flooder", "publisher", _server_side(transport), [], [], [], data=flow)
        await transport.setRemoteDtlsParameters(loadgen.dtls_parameters)
        await asyncio.wait_for(connected, 30)
        await until(lambda: len(heard) > 200, 10, lambda: len(heard))
        assert set(heard) == {32 * 1024}
        worker = room._channel.pid
        parent_before, worker_before = resident_kib(os.getpid()), peak_resident_kib(worker)
        caplog.set_level(logging.WARNING, logger="mediasoup")
        time.sleep(5)  # the event loop blocked: ~160 MB of messages (~220 MB as notifications) sent meanwhile
        # What the extension handed the loop meanwhile, not run yet: bounded.
        parent_growth = resident_kib(os.getpid()) - parent_before
        assert parent_growth < 64 * 1024, f"the parent grew {parent_growth} KiB while its loop was blocked"
        count = len(heard)
        await until(lambda: len(heard) > count + 500, 20, lambda: len(heard))
        worker_growth = peak_resident_kib(worker) - worker_before
        assert worker_growth < 64 * 1024, f"the worker's peak grew {worker_growth} KiB"
        # Most of what was sent while the loop was blocked was dropped, and said so once (at any logLevel but 'none').
        await until(lambda: any("did not keep up with the Channel" in r.getMessage() for r in caplog.records), 10, lambda: caplog.records)
        (record,) = [r for r in caplog.records if "did not keep up with the Channel" in r.getMessage()]
        dropped = int(record.getMessage().split("dropped ")[1].split()[0])
        assert dropped > 1000, record.getMessage()
        assert record.levelno == logging.ERROR
    finally:
        await loadgen.close()


# 100 rooms × 4 peers, created and closed 30 times.


def resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def worker_ports(pid: int, low: int, high: int) -> dict[str, int]:
    """The UDP and TCP sockets of process `pid` bound to a port in
    `low`-`high`, by protocol (its socket fds matched to /proc/net by inode:
    other processes' ephemeral ports may fall in the range too)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    counts = {}
    for protocol in ("udp", "tcp"):
        with open(f"/proc/net/{protocol}") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        counts[protocol] = sum(row[9] in inodes and low <= int(row[1].split(":")[1], 16) <= high for row in rows)
    return counts


async def test_100_rooms_of_4_peers_created_and_closed_30_times_leave_no_fd_port_or_memory(options: dict[str, Any]) -> None:
    """Each cycle opens 100 rooms of 4 peers, each peer with a WebRTC
    transport on UDP and TCP (400 ports, 800 sockets), then closes the
    rooms. After every cycle the worker's file descriptors and the ports it
    holds are exactly what they were before the first, and the parent's
    are no more; at the end, the first cycle's ports can be bound
    again. (The SPEC's bar is 100 cycles; 30 fit the CI budget.)

    Memory: the first cycle grows the worker's heap to the peak of 400
    transports, and the allocator keeps what it got. Measured on a 2-core
    VM (KiB of VmRSS, three runs): 28,800 before; 47,300-47,700 after
    cycle 1; 48,560-48,790 after cycle 2; 48,860-48,870 from cycle 10 to
    30, flat (+1.2 to 1.5 MiB over cycle 1). The bound, 4 MiB over cycle 1,
    leaves room for the allocator and catches a leak of 360 bytes or more
    per transport (29 × 400 transports). 16-25 s."""
    low, high = 44000, 44999
    options.update(rtcMinPort=low, rtcMaxPort=high)
    async with mediasoup.Server(options) as server:
        pid = server._channels[0].pid
        await server.dump()
        # What earlier tests left to the collector (a replaced worker's
        # Channel, say) closes its descriptors when collected, and its
        # process's tasks a little later: the parent's count may still fall,
        # never rise.
        gc.collect()
        fds, parent_fds = open_fds(pid), open_fds(os.getpid())
        assert worker_ports(pid, low, high) == {"udp": 0, "tcp": 0}
        resident = []
        first_ports: set[int] = set()
        for cycle in range(30):
            rooms = [server.Room() for _ in range(100)]
            peers = [room.Peer(f"peer-{index}") for room in rooms for index in range(4)]
            transports = await asyncio.gather(*(peer.createTransport() for peer in peers))
            if cycle == 0:
                first_ports = {transport.iceLocalCandidates[0]["port"] for transport in transports}
                assert len(first_ports) == 400
                assert worker_ports(pid, low, high) == {"udp": 400, "tcp": 400}
                assert open_fds(pid) == fds + 800
            for room in rooms:
                room.close()
            (worker,) = (await server.dump())["workers"].values()
            assert worker["rooms"] == [] and worker["transportCount"] == 0
            gc.collect()
            assert (open_fds(pid), worker_ports(pid, low, high)) == (fds, {"udp": 0, "tcp": 0}), cycle
            assert open_fds(os.getpid()) <= parent_fds, cycle
            resident.append(resident_kib(pid))
        assert server._channels[0].pid == pid and server.rooms == []
        assert resident[-1] <= resident[0] + 4096, resident
        # The first cycle's ports are free for anyone to bind.
        for port in first_ports:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind(("127.0.0.1", port))

