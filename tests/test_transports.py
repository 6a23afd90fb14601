"""WebRTC transports: parameters, ICE-lite and DTLS with real clients, ICE
over TCP, restarts, and no leaks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import ssl
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError, UnsupportedError

from .clients import MediasoupClient, StunOverTcp, use_loopback_only, wait_for_state
from .conftest import LOOPBACK, eventually


async def _peer(server: mediasoup.Server, name: str = "alice") -> tuple[mediasoup.Room, mediasoup.Peer]:
    room = await server.Room()
    return room, await room.Peer(name)


async def test_transport_parameters_are_what_mediasoup_clients_expect(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    created: list[Any] = []
    peer.on("newtransport", created.append)
    transport = await peer.createTransport()
    assert created == [transport] and peer.transports == [transport]
    assert transport.iceRole == "controlled"
    ice = transport.iceLocalParameters
    assert set(ice) == {"usernameFragment", "password", "iceLite"} and ice["iceLite"] is True
    candidates = transport.iceLocalCandidates
    assert [(c["protocol"], c["ip"], c["type"]) for c in candidates] == [("udp", "127.0.0.1", "host"), ("tcp", "127.0.0.1", "host")]
    assert "tcpType" not in candidates[0] and candidates[1]["tcpType"] == "passive"
    assert candidates[0]["priority"] > candidates[1]["priority"]
    (worker,) = (await server.dump())["workers"].values()
    for candidate in candidates:
        assert worker["rtcMinPort"] <= candidate["port"] <= worker["rtcMaxPort"]
    dtls = transport.dtlsLocalParameters
    assert dtls["role"] == "auto"
    assert [f["algorithm"] for f in dtls["fingerprints"]] == ["sha-256", "sha-384", "sha-512"]
    server_sha256 = next(f for f in (await server.dump())["dtlsFingerprints"] if f["algorithm"] == "sha-256")
    assert dtls["fingerprints"][0]["value"] == server_sha256["value"]
    assert transport.sctpParameters is None
    assert (transport.iceState, transport.dtlsState, transport.iceSelectedTuple, transport.dtlsRemoteCert) == ("new", "new", None, None)
    dump = await transport.dump()
    assert dump["id"] == transport.id and dump["iceLocalCandidates"] == candidates
    with_sctp = await peer.create_transport(enable_sctp=True, tcp=False)
    assert with_sctp.sctpParameters == {"port": 5000, "OS": 1024, "MIS": 1024, "maxMessageSize": 262144}
    assert [c["protocol"] for c in with_sctp.iceLocalCandidates] == ["udp"]
    prefer_tcp = await peer.createTransport(preferTcp=True)
    assert [c["protocol"] for c in prefer_tcp.iceLocalCandidates] == ["tcp", "udp"]


async def test_create_transport_checks_its_options(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    with pytest.raises(ValueError, match="udp and tcp are both False"):
        await peer.createTransport(udp=False, tcp=False)
    with pytest.raises(TypeError, match="udp must be a bool"):
        await peer.createTransport(udp=1)
    with pytest.raises(TypeError, match="unknown option 'sctp'"):
        await peer.createTransport(sctp=True)
    peer.close()
    with pytest.raises(InvalidStateError):
        await peer.createTransport()


async def test_pymediasoup_send_and_receive_transports_connect(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    room, peer = await _peer(server)
    sending = await peer.createTransport()
    receiving = await peer.createTransport()
    events: list[tuple[str, Any]] = []
    for name in ("icestatechange", "iceselectedtuplechange", "dtlsstatechange"):
        sending.on(name, lambda value, name=name: events.append((name, value)))
    closes: list[Any] = []
    sending.on("close", closes.append)
    client = MediasoupClient(room, peer)
    await client.load()
    try:
        await client.send_audio(sending)
        await client.receive_audio(receiving)
        await wait_for_state(sending, "connected")
        await wait_for_state(receiving, "connected")
        # pymediasoup is DTLS server on send transports, client on receive ones.
        assert sending.dtlsLocalParameters["role"] == "client"
        assert receiving.dtlsLocalParameters["role"] == "server"
        assert sending.iceState == "completed" and receiving.iceState == "completed"
        tuple_ = sending.iceSelectedTuple
        assert tuple_ is not None and tuple_["protocol"] == "udp"
        assert (tuple_["localIP"], tuple_["remoteIP"]) == ("127.0.0.1", "127.0.0.1")
        assert tuple_["localPort"] == sending.iceLocalCandidates[0]["port"]
        names = [name for name, _ in events]
        assert names.index("iceselectedtuplechange") < names.index("dtlsstatechange", 1)
        assert [value for name, value in events if name == "dtlsstatechange"] == ["connecting", "connected"]
        # The remote certificate is the one the client's fingerprint names (sha-512 only).
        sent = client.connect_parameters[0]
        assert [f["algorithm"] for f in sent["fingerprints"]] == ["sha-512"]
        der = ssl.PEM_cert_to_DER_cert(sending.dtlsRemoteCert or "")
        digest = hashlib.sha512(der).hexdigest()
        assert sent["fingerprints"][0]["value"] == mediasoup.extra.fingerprintToSDP(digest)
        stats = (await sending.getStats())[0]
        assert stats["type"] == "transport" and stats["packetsReceived"] > 0 and stats["bytesSent"] > 0
    finally:
        await client.close()
    # The client's DTLS close_notify closes the server's transport, with the reason.
    await eventually(lambda: sending.closed)
    assert len(closes) == 1 and "closed the connection" in str(closes[0])
    assert sending not in peer.transports
    # The worker let go of both transports (and their ports) too.
    await eventually(lambda: receiving.closed)
    (worker,) = (await server.dump())["workers"].values()
    assert worker["transportCount"] == 0


async def test_ipv6_loopback_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("::1 cannot be bound on this host")
    use_loopback_only(monkeypatch, "::1")
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4=False, rtcListenIPv6="::1") as server:
        room, peer = await _peer(server)
        transport = await peer.createTransport(tcp=False)
        assert transport.iceLocalCandidates[0]["ip"] == "::1"
        client = MediasoupClient(room, peer)
        await client.load()
        try:
            await client.send_audio(transport)
            await wait_for_state(transport, "connected")
        finally:
            await client.close()
        assert transport.iceSelectedTuple is not None and transport.iceSelectedTuple["remoteIP"] == "::1"


async def test_a_wrong_fingerprint_fails_dtls(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    room, peer = await _peer(server)
    transport = await peer.createTransport()
    client = MediasoupClient(room, peer)
    client.tamper_fingerprint = True
    await client.load()
    try:
        await client.send_audio(transport)
        await wait_for_state(transport, "failed")
    finally:
        await client.close()
    assert transport.dtlsRemoteCert is None
    stats = (await transport.getStats())[0]
    assert stats["dtlsState"] == "failed"


async def test_set_remote_dtls_parameters_checks_role_and_fingerprints(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    transport = await peer.createTransport()
    fingerprint = {"algorithm": "sha-256", "value": ":".join(["AB"] * 32)}
    with pytest.raises(ValueError, match="'auto', 'client' or 'server'"):
        await transport.setRemoteDtlsParameters({"role": "boss", "fingerprint": fingerprint})
    with pytest.raises(TypeError, match="needs 'fingerprints'"):
        await transport.setRemoteDtlsParameters({"role": "client"})
    with pytest.raises(UnsupportedError, match="no fingerprint in sha-1"):
        await transport.setRemoteDtlsParameters({"fingerprints": [{"algorithm": "md5", "value": "AB:CD"}]})
    with pytest.raises(TypeError, match="must be a dict"):
        await transport.setRemoteDtlsParameters("sha-256 AB")  # type: ignore[arg-type]
    assert transport.dtlsLocalParameters["role"] == "auto" and transport.dtlsState == "new"
    # The seed era's single fingerprint; remote 'client' makes this side the server.
    await transport.setRemoteDtlsParameters({"role": "client", "fingerprint": fingerprint})
    assert transport.dtlsLocalParameters["role"] == "server"
    with pytest.raises(InvalidStateError, match="set already"):
        await transport.setRemoteDtlsParameters({"fingerprint": fingerprint})
    other = await peer.createTransport()
    await other.setRemoteDtlsParameters({"fingerprints": [fingerprint]})
    assert other.dtlsLocalParameters["role"] == "client"
    await eventually(lambda: other.dtlsState == "connecting")


async def test_ice_over_tcp_with_rfc4571_framing(server: mediasoup.Server) -> None:
    from aioice import stun

    _, peer = await _peer(server)
    transport = await peer.createTransport(udp=False)
    (candidate,) = transport.iceLocalCandidates
    assert candidate["protocol"] == "tcp" and candidate["tcpType"] == "passive"
    client = StunOverTcp(transport)
    await client.connect(candidate)
    try:
        # Garbage first: a frame that is no packet, then one with a wrong password.
        client.send_framed(b"\x99" * 50)
        client.send_framed(client.binding_request(password="wrong-password"))
        # A valid request split across writes, as TCP may deliver it.
        framed = len(request := client.binding_request()).to_bytes(2, "big") + request
        assert client.writer is not None
        for index in range(0, len(framed), 7):
            client.writer.write(framed[index : index + 7])
            await client.writer.drain()
            await asyncio.sleep(0.001)
        response = stun.parse_message(await client.read_framed())
        assert response.message_class == stun.Class.RESPONSE
        assert response.attributes["XOR-MAPPED-ADDRESS"][0] == "127.0.0.1"
        await eventually(lambda: transport.iceState == "completed")
        tuple_ = transport.iceSelectedTuple
        assert tuple_ is not None and tuple_["protocol"] == "tcp" and tuple_["localPort"] == candidate["port"]
    finally:
        await client.close()


async def test_idle_tcp_connections_cannot_shut_the_client_out(server: mediasoup.Server) -> None:
    from aioice import stun

    _, peer = await _peer(server)
    transport = await peer.createTransport(udp=False)
    (candidate,) = transport.iceLocalCandidates
    loop = asyncio.get_running_loop()
    # Anyone who reaches the port: 20 connections that never authenticate
    # (8 used to refuse every later connection until they closed).
    idle = [await asyncio.open_connection(candidate["ip"], candidate["port"]) for _ in range(20)]
    opened_at = loop.time()
    client = StunOverTcp(transport)
    await client.connect(candidate)
    try:
        client.send_framed(client.binding_request())
        response = stun.parse_message(await client.read_framed())
        assert response.message_class == stun.Class.RESPONSE
        await eventually(lambda: transport.iceState == "completed")
        # The oldest idle ones made room at once; the rest time out after 5 s,
        # while the authenticated connection stays.
        for reader, _ in idle[:13]:
            assert await asyncio.wait_for(reader.read(1), 2) == b""
        for reader, _ in idle[13:]:
            assert await asyncio.wait_for(reader.read(1), 8) == b""
        assert 4.5 < loop.time() - opened_at < 8
        client.send_framed(client.binding_request())
        assert stun.parse_message(await client.read_framed()).message_class == stun.Class.RESPONSE
    finally:
        await client.close()
        for _, writer in idle:
            writer.close()


async def test_stun_with_a_wrong_password_is_ignored(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    transport = await peer.createTransport(tcp=False)
    (candidate,) = transport.iceLocalCandidates
    request = StunOverTcp(transport).binding_request(password="not-the-password")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(request, (candidate["ip"], candidate["port"]))
        with pytest.raises(socket.timeout):
            udp.recv(2048)
    assert transport.iceState == "new"


async def test_change_ufrag_pwd_restarts_ice(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    transport = await peer.createTransport(tcp=False)
    before = transport.iceLocalParameters
    after = await transport.changeUfragPwd()
    assert after == transport.iceLocalParameters
    assert after["usernameFragment"] != before["usernameFragment"] and after["password"] != before["password"]
    assert after["iceLite"] is True
    (candidate,) = transport.iceLocalCandidates
    old = StunOverTcp(transport)
    old.server_ufrag, old.server_password = before["usernameFragment"], before["password"]
    new = StunOverTcp(transport)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        udp.sendto(old.binding_request(), (candidate["ip"], candidate["port"]))
        with pytest.raises(socket.timeout):
            udp.recv(2048)
        udp.sendto(new.binding_request(), (candidate["ip"], candidate["port"]))
        assert udp.recv(2048)[:2] == b"\x01\x01"  # a Binding success response
    await eventually(lambda: transport.iceState == "completed")


async def test_set_max_bitrate(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    transport = await peer.createTransport()
    await transport.setMaxBitrate(1_500_000)
    assert (await transport.dump())["maxBitrate"] == 1_500_000
    with pytest.raises(ValueError, match="> 0"):
        await transport.setMaxBitrate(0)
    with pytest.raises(TypeError, match="must be an int"):
        await transport.set_max_bitrate(1.5)  # type: ignore[arg-type]


async def test_closing_a_peer_mid_handshake_closes_its_transports(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    room, peer = await _peer(server)
    transport = await peer.createTransport()
    closes: list[Any] = []
    transport.on("close", closes.append)
    await transport.setRemoteDtlsParameters({"fingerprints": [{"algorithm": "sha-256", "value": ":".join(["AB"] * 32)}]})
    peer.close()
    assert transport.closed and closes == [None]
    assert (transport.iceState, transport.dtlsState) == ("closed", "closed")
    with pytest.raises(InvalidStateError):
        await transport.dump()
    await eventually(lambda: True)
    (worker,) = (await server.dump())["workers"].values()
    assert worker["transportCount"] == 0


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_transports_created_and_closed_leave_no_fd_or_port_behind(options: dict[str, Any]) -> None:
    options.update(rtcMinPort=42000, rtcMaxPort=42099)
    async with mediasoup.Server(options) as server:
        pid = server._channels[0].pid
        room, peer = await _peer(server)
        warmup = await peer.createTransport()
        warmup.close()
        await server.dump()
        fds_before = _open_fds(pid)
        for _ in range(200):
            transport = await peer.createTransport()
            transport.close()
        # 100 ports and 200 transports: ports are given back on close.
        await server.dump()
        assert _open_fds(pid) == fds_before
        many = [await peer.createTransport(tcp=False) for _ in range(100)]
        assert len({t.iceLocalCandidates[0]["port"] for t in many}) == 100
        with pytest.raises(UnsupportedError, match="no free port"):
            await peer.createTransport()
        peer.close()
        await server.dump()
        assert _open_fds(pid) == fds_before


async def test_random_datagrams_on_transport_ports_do_not_hurt_the_worker(server: mediasoup.Server) -> None:
    _, peer = await _peer(server)
    transport = await peer.createTransport()
    udp_port = transport.iceLocalCandidates[0]["port"]
    tcp_port = transport.iceLocalCandidates[1]["port"]
    rng = random.Random(11)
    prefixes = [b"", b"\x00\x01", b"\x16\xfe\xfd", b"\x80", b"\x80\xc8", b"\x00\x03"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for _ in range(1000):
            packet = rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 1400))
            udp.sendto(packet, ("127.0.0.1", udp_port))
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
    for _ in range(200):
        writer.write(rng.randbytes(rng.randrange(1, 3000)))
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.2)
    assert (await transport.dump())["iceState"] == "new"
    assert (await server.dump())["workers"]
