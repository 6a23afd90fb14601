"""Data channels with real clients: aiortc through SDP (the label relay,
Python listening and sending), pymediasoup's produceData / consumeData
(ORTC), and what bad input gets."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError

from .clients import MediasoupClient, SdpEndpoint, until, use_loopback_only


async def connected_pair(room: mediasoup.Room, label: str, names: tuple[str, str] = ("alice", "bob")) -> tuple[SdpEndpoint, SdpEndpoint]:
    """Two SDP endpoints of `room` connected, each with its own channel `label`, open."""
    first, second = SdpEndpoint(await room.Peer(names[0])), SdpEndpoint(await room.Peer(names[1]))
    for endpoint in (first, second):
        endpoint.open(label)
    for endpoint in (first, second):
        await endpoint.connect()
    for endpoint in (first, second):
        await endpoint.opened(label)
    return first, second


async def test_sdp_endpoints_talk_by_label_and_python_hears_and_speaks(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = SdpEndpoint(await room.Peer("alice")), SdpEndpoint(await room.Peer("bob"))
    heard: list[tuple[str, Any]] = []
    alice.peer.on("datachannelmessage", lambda label, data: heard.append((label, data)))
    try:
        alice.open("chat")
        alice.open("cursor", ordered=False, maxRetransmits=0)
        bob.open("chat")
        await alice.connect()
        await bob.connect()
        alice_chat, bob_chat = await alice.opened("chat"), await bob.opened("chat")
        alice_cursor = await alice.opened("cursor")
        # Text one way, in order; binary the other way, byte-equal.
        texts = [f"message {index}" for index in range(200)]
        for text in texts:
            alice_chat.send(text)
        await until(lambda: len(bob.received.get("chat", [])) >= len(texts), 10, lambda: len(bob.received.get("chat", [])))
        assert bob.received["chat"] == texts
        blobs = [os.urandom(size) for size in (1, 1000, 65_000, 65_536)]
        heard_by_python: list[Any] = []
        bob.peer.on("datachannelmessage", lambda label, data: heard_by_python.append(data))
        await asyncio.sleep(0.2)  # the listener reaches the worker
        # Over 64 KiB: received (Python hears it), not relayed, counted dropped.
        too_large = os.urandom(200_000)
        for blob in [*blobs[:2], too_large, *blobs[2:]]:
            bob_chat.send(blob)
        await until(lambda: len(alice.received.get("chat", [])) >= len(blobs), 10, lambda: len(alice.received.get("chat", [])))
        assert alice.received["chat"] == blobs
        await until(lambda: len(heard_by_python) >= 5, 10, lambda: len(heard_by_python))
        assert heard_by_python[2] == too_large
        # Bob never opened 'cursor': the server opens it for him, with its delivery.
        for index in range(20):
            alice_cursor.send(f"x={index}")
        bob_cursor = await bob.opened("cursor")
        assert (bob_cursor.ordered, bob_cursor.maxRetransmits) == (False, 0)
        await until(lambda: len(bob.received.get("cursor", [])) >= 18, 10, lambda: bob.received.get("cursor"))
        # Python heard alice's messages, as str for text.
        await until(lambda: len(heard) >= len(texts) + 20, 10, lambda: len(heard))
        assert heard[: len(texts)] == [("chat", text) for text in texts]
        # Python speaks on a channel the endpoint has, text and bytes.
        await bob.peer.sendData("chat", "from python")
        await bob.peer.sendData("chat", b"\x00\x01binary")
        await until(lambda: len(alice.received["chat"]) >= len(blobs) + 0 and len(bob.received["chat"]) >= len(texts) + 2, 10, lambda: bob.received["chat"][-2:])
        assert bob.received["chat"][-2:] == ["from python", b"\x00\x01binary"]
        # ... and on a label it has not: the endpoint gets the channel.
        await alice.peer.sendData("news", "hello")
        await until(lambda: alice.received.get("news") == ["hello"], 10, lambda: alice.received)
        # Stats count what went through each channel.
        stats = await alice.server.transport.getStats()
        chat = next(entry for entry in stats if entry["type"] == "data-channel" and entry["label"] == "chat")
        assert chat["messagesReceived"] == len(texts) and chat["messagesSent"] == len(blobs) and chat["messagesDropped"] == 1
        dump = await bob.server.transport.dump()
        assert sorted(channel["label"] for channel in dump["dataChannels"]) == ["chat", "cursor"]
    finally:
        await alice.close()
        await bob.close()


async def test_a_channel_whose_names_do_not_fit_a_dcep_open_is_not_relayed_and_cuts_nobody_off(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint may open a channel whose label and protocol together are
    longer than str0m writes into a DCEP open (1,488 bytes): relaying it in
    band to the other members made str0m panic and ended their transports.
    Now it is not relayed; the call goes on."""
    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await connected_pair(room, "chat")
    try:
        fits, too_long = "f" * 744, "l" * 1000
        alice.open(fits, protocol="p" * 744)
        alice.open(too_long, protocol="p" * 1000)
        (await alice.opened(fits)).send("fits")
        (await alice.opened(too_long)).send("too long")
        (await alice.opened("chat")).send("after")
        await until(lambda: bob.received.get("chat") == ["after"] and bob.received.get(fits) == ["fits"], 10, lambda: bob.received)
        assert too_long not in bob.channels and bob.channels[fits].protocol == "p" * 744
        stats = await bob.server.transport.getStats()
        assert stats[0]["dtlsState"] == "connected", stats[0]
        (await bob.opened("chat")).send("still here")
        await until(lambda: alice.received.get("chat") == ["still here"], 10, lambda: alice.received)
    finally:
        await alice.close()
        await bob.close()


async def test_an_endpoint_s_channels_past_the_count_or_with_names_too_long_are_closed(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transport holds 1,024 channels, both sides' together, on any stream
    id (str0m offers 65,535 streams, and a browser's in-band channels take
    ids of one parity: past 1,023 from its 513th), with labels and protocols
    of at most 1,024 bytes (a DCEP open carries 65,535 bytes of each, which
    the worker would hold for every channel). An endpoint's channel past
    either is closed at once; the others and the call go on."""
    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await connected_pair(room, "chat")
    try:
        high = alice.open("high", id=2001)  # announced in band on stream 2001: kept
        too_long = [alice.open("l" * 1025), alice.open("protocol", protocol="p" * 1025)]
        fits = "f" * 1024
        alice.open(fits)
        # "chat", "high" and fits are three: 1,021 more fill the transport, the last 3 are refused.
        many = [alice.open(f"n{index}") for index in range(1024)]
        every = [high, *too_long, *many]

        def settled() -> bool:
            return all(channel.readyState in ("open", "closed") for channel in every) and sum(channel.readyState == "closed" for channel in every) >= 5

        await until(settled, 30, lambda: collections.Counter(channel.readyState for channel in every))
        dump = await alice.server.transport.dump()
        closed_many = [channel.label for channel in many if channel.readyState == "closed"]
        held = sorted(channel["label"][:8] for channel in dump["dataChannels"] if channel["label"] not in {f"n{index}" for index in range(1024)})
        seen = f"too long: {[channel.readyState for channel in too_long]}, high: {high.readyState}, closed of the 1,024: {closed_many}, the worker holds {len(dump['dataChannels'])}, other than n*: {held}"
        assert [channel.readyState for channel in too_long] == ["closed", "closed"] and high.readyState == "open", seen
        assert len(closed_many) == 3, seen
        assert len(dump["dataChannels"]) == 1024, seen
        assert {"chat", "high", fits} <= {channel["label"] for channel in dump["dataChannels"]}
        (await alice.opened(fits)).send("fits")
        high.send("high")
        (await alice.opened("chat")).send("after")
        await until(lambda: bob.received.get("chat") == ["after"] and bob.received.get(fits) == ["fits"] and bob.received.get("high") == ["high"], 10, lambda: bob.received)
        (await bob.opened("chat")).send("still here")
        await until(lambda: alice.received.get("chat") == ["still here"], 10, lambda: alice.received)
    finally:
        await alice.close()
        await bob.close()


async def test_an_endpoint_that_keeps_opening_channels_the_worker_closes_loses_its_transport(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each channel the worker closes as over the limits holds its stream id
    in str0m until the endpoint answers the reset: past 1,024 such channels
    the transport ends, with a reason; the other member's goes on."""
    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await connected_pair(room, "chat")
    try:
        transport = alice.server.transport
        closes: list[Any] = []
        transport.on("close", closes.append)
        # Labels of 1,025 bytes, over the limit. aiortc reuses an id the worker
        # reset, and str0m ignores an open on an id whose reset is under way:
        # not every one reaches the worker, so they go in batches until it ends.
        for batch in range(40):
            for index in range(100):
                alice.open(f"{batch:02}{index:02}" + "l" * 1021)
            await asyncio.sleep(0.1)
            if transport.closed:
                break
        await until(lambda: transport.closed, 10, lambda: transport.dtlsState)
        assert "too many channels" in str(closes[0]), closes
        (await bob.opened("chat")).send("bob is still here")
        assert (await bob.server.transport.getStats())[0]["dtlsState"] == "connected"
    finally:
        await alice.close()
        await bob.close()


async def test_a_large_file_in_chunks_arrives_byte_equal(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    use_loopback_only(monkeypatch)
    room = await server.Room()
    sender, receiver = await connected_pair(room, "file", ("sender", "receiver"))
    try:
        channel = sender.channels["file"]
        payload = os.urandom(5 * 1024 * 1024)
        chunk = 16 * 1024
        for offset in range(0, len(payload), chunk):
            while channel.bufferedAmount > 1024 * 1024:
                await asyncio.sleep(0.005)
            channel.send(payload[offset : offset + chunk])
        await until(lambda: sum(map(len, receiver.received.get("file", []))) >= len(payload), 60, lambda: sum(map(len, receiver.received.get("file", []))))
        assert hashlib.sha256(b"".join(receiver.received["file"])).digest() == hashlib.sha256(payload).digest()
    finally:
        await sender.close()
        await receiver.close()


async def test_produce_data_reaches_consume_data_through_ortc(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from pymediasoup.sctp_parameters import SctpStreamParameters

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice_peer, bob_peer = await room.Peer("alice"), await room.Peer("bob")
    alice, bob = MediasoupClient(room, alice_peer), MediasoupClient(room, bob_peer)
    await alice.load()
    await bob.load()
    data_senders: list[mediasoup.DataSender] = []
    bob_peer.on("newdatasender", data_senders.append)
    try:
        sending = await alice_peer.createTransport(enableSctp=True)
        receiving = await bob_peer.createTransport(enableSctp=True)
        client_send = alice.sctp_transport(sending, "send")
        receivers: list[mediasoup.DataReceiver] = []

        @client_send.on("producedata")
        async def on_produce_data(sctpStreamParameters: Any, label: str, protocol: str, appData: Any) -> str:
            receiver = alice_peer.DataReceiver(sending)
            await receiver.receive({"sctpStreamParameters": sctpStreamParameters.model_dump(exclude_none=True), "label": label, "protocol": protocol})
            receivers.append(receiver)
            return receiver.id

        producer = await client_send.produceData(label="telemetry", protocol="json", ordered=False, maxRetransmits=3)
        (receiver,) = receivers
        assert receiver.label == "telemetry" and receiver.sctpStreamParameters == {"streamId": producer.sctpStreamParameters.streamId, "ordered": False, "maxRetransmits": 3}
        await until(lambda: len(data_senders) == 1, 5, lambda: data_senders)
        (data_sender,) = data_senders
        assert data_sender.associatedDataReceiver is receiver and data_sender.label == "telemetry" and data_sender.protocol == "json"
        await data_sender.setTransport(receiving)
        client_receive = bob.sctp_transport(receiving, "recv")
        consumer = await client_receive.consumeData(
            id=data_sender.id,
            dataProducerId=receiver.id,
            sctpStreamParameters=SctpStreamParameters(**data_sender.sctpStreamParameters),
            label=data_sender.label,
            protocol=data_sender.protocol,
        )
        got: list[Any] = []
        consumer.on("message", got.append)
        await until(lambda: producer.readyState == "open", 10, lambda: producer.readyState)
        # The consumer's channel opens once its transport connected; send until messages flow.
        await until(lambda: consumer.readyState == "open", 10, lambda: consumer.readyState)
        messages = [f'{{"n": {index}}}' for index in range(50)] + [b"\xff" * 1000]
        for message in messages:
            producer.send(message)
        await until(lambda: len(got) >= len(messages), 10, lambda: len(got))
        assert sorted(got, key=repr) == sorted(messages, key=repr)
        (stats,) = await data_sender.getStats()
        assert stats["messagesSent"] == len(messages) and stats["bytesSent"] == sum(map(len, (m.encode() if isinstance(m, str) else m for m in messages)))
        # Closing the receiver closes its senders.
        receiver.close()
        assert data_sender.closed and bob_peer.dataSenders == []
    finally:
        await alice.close()
        await bob.close()


async def test_bad_data_parameters_and_calls_raise(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("p")
    plain = await peer.createTransport()
    with pytest.raises(InvalidStateError, match="enableSctp"):
        peer.DataReceiver(plain)
    with pytest.raises(InvalidStateError, match="enableSctp"):
        await peer.sendData("chat", "hi")
    transport = await peer.createTransport(enableSctp=True)
    assert transport.sctpParameters == {"port": 5000, "OS": 1024, "MIS": 1024, "maxMessageSize": 262144}
    for parameters, error, match in [
        ({}, TypeError, "sctpStreamParameters must be a dict"),
        ({"sctpStreamParameters": {}}, ValueError, "needs a streamId"),
        ({"sctpStreamParameters": {"streamId": 5000}}, ValueError, "streamId must be an int in 0..1023"),
        ({"sctpStreamParameters": {"streamId": 1, "maxRetransmits": 1, "maxPacketLifeTime": 1}}, ValueError, "not both"),
        ({"sctpStreamParameters": {"streamId": 1}, "label": 7}, TypeError, "label must be a str"),
        ({"sctpStreamParameters": {"streamId": 1}, "extra": 1}, TypeError, "unknown data receiver parameters: extra"),
    ]:
        with pytest.raises(error, match=match):
            await peer.DataReceiver(transport).receive(parameters)
    first = peer.DataReceiver(transport)
    await first.receive({"sctpStreamParameters": {"streamId": 2}, "label": "a"})
    with pytest.raises(ValueError, match="SCTP stream 2 is taken"):
        await peer.DataReceiver(transport).receive({"sctpStreamParameters": {"streamId": 2}})
    with pytest.raises(ValueError, match="at most 65536 bytes, not 65537"):
        await peer.sendData("chat", b"x" * 65_537)
    with pytest.raises(TypeError, match="data must be a str or bytes"):
        await peer.sendData("chat", 5)  # type: ignore[arg-type]
    # Nothing was lost: the channel opened first is still there, and the peer works.
    assert [receiver.label for receiver in peer.dataReceivers if not receiver.closed and receiver.sctpStreamParameters] == ["a"]
    await peer.sendData("chat", "queued until the endpoint connects")
    assert (await first.dump())["label"] == "a"


def _sctp_packet(verification_tag: int, chunks: bytes) -> bytes:
    """An SCTP packet from port 5000 to 5000 with a valid CRC32c over `chunks`
    (however malformed they are)."""
    import struct

    from google_crc32c import value as crc32c

    header = struct.pack("!HHL", 5000, 5000, verification_tag)
    checksum = crc32c(header + b"\x00\x00\x00\x00" + chunks)
    return header + struct.pack("<L", checksum) + chunks


async def test_malformed_sctp_on_a_live_association_harms_nothing(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import random
    import struct

    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await connected_pair(room, "chat")
    try:
        alice_chat = alice.channels["chat"]
        alice_chat.send("before")
        await until(lambda: bob.received.get("chat") == ["before"], 10, lambda: bob.received)
        sctp = alice.client.sctp
        dtls = sctp.transport
        tag = sctp._remote_verification_tag
        rng = random.Random(16)
        hostile = [
            b"\x13",
            b"\x13\x88",  # a truncated common header
            _sctp_packet(tag, b""),  # no chunk
            _sctp_packet(tag, struct.pack("!BBH", 0, 3, 0xFFFF)),  # DATA claiming 64 KiB
            _sctp_packet(tag, struct.pack("!BBH", 0, 3, 2)),  # DATA shorter than its header
            _sctp_packet(tag, struct.pack("!BBHLHHL", 0, 3, 16, 0, 9999, 0, 51)),  # DATA on a stream never opened
            _sctp_packet(tag, struct.pack("!BBHLHHL", 0, 3, 17, 0, 0, 0, 50) + b"\x00"),  # DCEP OPEN of one byte
            _sctp_packet(tag, struct.pack("!BBH", 3, 0, 4)),  # SACK without its fields
            _sctp_packet(tag, struct.pack("!BBH", 130, 0, 8) + b"\x00\x0d\x00\x04"),  # RE-CONFIG, truncated parameter
            _sctp_packet(tag ^ 1, struct.pack("!BBH", 6, 0, 4)),  # ABORT with a wrong tag
            *(_sctp_packet(tag, rng.randbytes(rng.randrange(0, 300))) for _ in range(200)),
            *(rng.randbytes(rng.randrange(1, 1200)) for _ in range(100)),
        ]
        for packet in hostile:
            await dtls._send_data(packet)
        await asyncio.sleep(0.5)
        # The worker lives, and the channels go on both ways.
        assert all(not worker["closed"] for worker in (await server.dump())["workers"].values())
        alice_chat.send("after")
        bob.channels["chat"].send("back")
        await until(lambda: bob.received["chat"][-1:] == ["after"] and alice.received.get("chat", [])[-1:] == ["back"], 10, lambda: (bob.received, alice.received))
    finally:
        await alice.close()
        await bob.close()


async def test_messages_reach_python_only_while_a_listener_is_there(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker sends an endpoint's messages over the Channel while the
    peer's ``datachannelmessage`` has a listener: ``off`` and a ``once``
    that ran stop them (they cost the Channel JSON and base64 each)."""
    use_loopback_only(monkeypatch)
    room = await server.Room()
    alice, bob = await connected_pair(room, "chat")
    try:
        chat = await alice.opened("chat")
        reached: list[Any] = []
        notified = alice.peer._on_notification

        def counting(event: str, data: Any) -> None:
            reached.append(data["data"])
            notified(event, data)

        monkeypatch.setattr(alice.peer, "_on_notification", counting)
        heard: list[Any] = []

        def listener(label: str, data: Any) -> None:
            heard.append(data)

        async def told() -> None:
            await alice.peer.dump()  # the worker takes requests in order: it has the listener's change

        async def send(text: str) -> None:
            chat.send(text)
            await until(lambda: text in bob.received.get("chat", []), 5, lambda: bob.received)
            # The worker relayed it, so its notification (if any) is on the
            # Channel before this dump's answer; a second dump follows any
            # request a listener made on hearing it.
            await told()
            await told()

        alice.peer.on("datachannelmessage", listener)
        await told()
        await send("one")
        alice.peer.off("datachannelmessage", listener)
        await told()
        await send("two")
        alice.peer.once("datachannelmessage", listener)
        await told()
        await send("three")
        await send("four")
        assert (heard, reached) == (["one", "three"], ["one", "three"])
    finally:
        await alice.close()
        await bob.close()
