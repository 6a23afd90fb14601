"""Peers: names, events, capabilities, closing."""

from __future__ import annotations

from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError


async def test_peer_names_are_unique_among_open_peers(server: mediasoup.Server) -> None:
    room = await server.Room()
    joined: list[Any] = []
    room.on("newpeer", joined.append)
    alice = await room.Peer("alice")
    bob = room.Peer("bob")
    assert joined == [alice, bob]
    assert room.peers == [alice, bob]
    assert room.getPeer("alice") is alice and room.get_peer("bob") is bob
    assert room.getPeer("carol") is None
    with pytest.raises(ValueError, match="named 'alice' already"):
        room.Peer("alice")
    with pytest.raises(TypeError):
        room.Peer()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="must be a str"):
        room.Peer(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        room.Peer("")
    closes: list[Any] = []
    alice.on("close", closes.append)
    alice.close()
    alice.close()
    assert closes == [None] and alice.closed
    assert room.peers == [bob]
    again = await room.Peer("alice")
    assert again is not alice and room.peers == [bob, again]
    dump = await room.dump()
    assert set(dump["peers"]) == {"bob", "alice"}
    assert dump["peers"]["alice"]["id"] == again.id
    assert repr(again) == f"<Peer {again.id[:8]}… name='alice' transports=0 closed=False>"


async def test_set_capabilities_validates_and_stores(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    assert peer.capabilities is None
    with pytest.raises(TypeError, match="must be a dict"):
        await peer.setCapabilities([])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"codecs\[0\].preferredPayloadType is required"):
        await peer.setCapabilities({"codecs": [{"mimeType": "audio/opus", "clockRate": 48000}]})
    assert peer.capabilities is None
    # What a client sends: the room's capabilities, narrowed; extra keys are dropped.
    capabilities = room.rtpCapabilities
    capabilities["codecs"] = capabilities["codecs"][:3]
    capabilities["codecs"][0]["somethingElse"] = True
    await peer.set_capabilities(capabilities)
    stored = peer.capabilities
    assert stored is not None
    assert [codec["mimeType"] for codec in stored["codecs"]] == ["audio/opus", "video/VP8", "video/rtx"]
    assert "somethingElse" not in stored["codecs"][0]
    assert (await peer.dump())["capabilities"] == stored


async def test_closing_the_room_closes_its_peers(server: mediasoup.Server) -> None:
    room = await server.Room()
    peers = [await room.Peer(name) for name in ("a", "b")]
    events: list[str] = []
    for peer in peers:
        peer.on("close", lambda error, peer=peer: events.append(peer.name))
    room.close()
    assert events == ["a", "b"] and all(peer.closed for peer in peers)
    with pytest.raises(InvalidStateError):
        room.Peer("c")
    with pytest.raises(InvalidStateError):
        await peers[0].createTransport()
