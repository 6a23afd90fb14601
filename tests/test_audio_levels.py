"""Audio levels and the active speaker, from real publishers: pymediasoup
(aiortc) clients playing tones at different loudness, whose packets carry
the RFC 6464 level the worker reads without decoding."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import mediasoup

from .clients import MediasoupClient, tone_track, until, use_loopback_only


async def test_levels_are_ordered_and_the_floor_changes_when_the_speaker_stops_not_on_a_blip(
    server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_loopback_only(monkeypatch)
    room = await server.Room(audioLevelInterval=250, audioLevelThreshold=-50)
    reports: list[list[tuple[str, float]]] = []
    speakers: list[str | None] = []
    room.on("audiolevels", lambda levels: reports.append([(receiver.peer.name, level) for receiver, level in levels]))
    room.on("activespeaker", lambda receiver: speakers.append(receiver.peer.name if receiver else None))
    clients: list[MediasoupClient] = []
    tracks: dict[str, Any] = {}
    try:
        # Loud first: it takes the floor before the others join.
        for name, amplitude in [("loud", 0.5), ("middle", 0.1), ("quiet", 0.02)]:
            peer = await room.Peer(name)
            client = MediasoupClient(room, peer)
            await client.load()
            tracks[name] = tone_track(amplitude)
            await client.publish(await peer.createTransport(), [tracks[name]])
            clients.append(client)
            if name == "loud":
                await until(lambda: speakers == ["loud"], 10, lambda: (speakers, reports[-3:]))
        await until(lambda: len(reports) >= 3 and len(reports[-1]) == 3, 10, lambda: reports[-3:])
        assert [name for name, _ in reports[-1]] == ["loud", "middle", "quiet"]
        levels = dict(reports[-1])
        # RMS of a sine at amplitude a: 20·log10(a/√2) dBov.
        assert levels["loud"] == pytest.approx(-9, abs=1.5) and levels["middle"] == pytest.approx(-23, abs=1.5)
        assert room.activeSpeaker is not None and room.activeSpeaker.peer.name == "loud"
        # The quiet one coughs, loud, for 100 ms: nothing changes.
        tracks["quiet"].amplitude = 0.9
        await asyncio.sleep(0.1)
        tracks["quiet"].amplitude = 0.02
        await asyncio.sleep(1.5)
        assert speakers == ["loud"]
        # The loud one stops: the floor passes to the loudest still speaking.
        tracks["loud"].amplitude = 0.0
        await until(lambda: speakers[-1] == "middle", 5, lambda: speakers)
        assert speakers == ["loud", "middle"]
        await until(lambda: [name for name, _ in reports[-1]] == ["middle", "quiet"], 5, lambda: reports[-2:])
        # Everyone silent: one empty report, and no more.
        for track in tracks.values():
            track.amplitude = 0.0
        await until(lambda: reports[-1] == [], 5, lambda: reports[-2:])
        count = len(reports)
        await asyncio.sleep(1.0)
        assert len(reports) == count
    finally:
        for client in clients:
            await client.close()


async def test_room_audio_options_are_checked(server: mediasoup.Server) -> None:
    with pytest.raises(ValueError, match="audioLevelInterval is in milliseconds, 100 to 60000, not 50"):
        server.Room(audioLevelInterval=50)
    with pytest.raises(ValueError, match="audioLevelThreshold is in dBov, -127 to 0, not 3"):
        server.Room(audioLevelThreshold=3)
    with pytest.raises(TypeError, match="dataChannelRelay must be bool, not int"):
        server.Room(dataChannelRelay=1)
    room = await server.Room(dataChannelRelay=False, audioLevelInterval=1000)
    assert room.dataChannelRelay is False
    dump = await room.dump()
    assert (dump["dataChannelRelay"], dump["audioLevelInterval"], dump["audioLevelThreshold"]) == (False, 1000, -60)
