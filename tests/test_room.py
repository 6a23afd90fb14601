"""Rooms: placement, codecs, dump and close."""

from __future__ import annotations

from typing import Any

import pytest

import mediasoup
from mediasoup.errors import InvalidStateError, UnsupportedError


async def test_default_rtp_capabilities(server: mediasoup.Server) -> None:
    room = await server.Room()
    capabilities = room.rtpCapabilities
    mime_types = [codec["mimeType"] for codec in capabilities["codecs"]]
    assert mime_types == [
        "audio/opus", "video/VP8", "video/rtx", "video/VP9", "video/rtx",
        "video/H264", "video/rtx", "video/AV1", "video/rtx",
    ]
    payload_types = [codec["preferredPayloadType"] for codec in capabilities["codecs"]]
    assert len(set(payload_types)) == len(payload_types)
    opus = capabilities["codecs"][0]
    assert (opus["kind"], opus["clockRate"], opus["channels"]) == ("audio", 48000, 2)
    h264 = capabilities["codecs"][5]
    assert h264["parameters"]["packetization-mode"] == 1
    for codec, rtx in zip(capabilities["codecs"][1::2], capabilities["codecs"][2::2]):
        assert rtx["parameters"] == {"apt": codec["preferredPayloadType"]}
        assert {"type": "nack", "parameter": "pli"} in codec["rtcpFeedback"]
    uris = {(ext["kind"], ext["uri"]) for ext in capabilities["headerExtensions"]}
    assert ("audio", "urn:ietf:params:rtp-hdrext:sdes:mid") in uris
    assert ("video", "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id") in uris
    # The worker holds the same capabilities.
    assert (await room.dump())["rtpCapabilities"] == capabilities
    # A copy: changing it changes nothing.
    capabilities["codecs"].clear()
    assert room.rtp_capabilities["codecs"]


async def test_media_codecs_choose_the_rooms_codecs(server: mediasoup.Server) -> None:
    room = await server.Room(
        mediaCodecs=[
            {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
            {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 96},
        ]
    )
    codecs = room.rtpCapabilities["codecs"]
    assert [(c["mimeType"], c["preferredPayloadType"]) for c in codecs] == [
        ("audio/opus", 100), ("video/VP8", 96), ("video/rtx", 101),
    ]


@pytest.mark.parametrize(
    ("media_codecs", "error", "message"),
    [
        ("opus", TypeError, "mediaCodecs must be a list"),
        ([], ValueError, "at least one codec"),
        ([{"kind": "video", "mimeType": "video/H265", "clockRate": 90000}], UnsupportedError, "video/H265"),
        ([{"kind": "audio", "mimeType": "audio/opus", "clockRate": 44100}], UnsupportedError, "44100"),
        ([{"kind": "audio", "mimeType": "video/VP8"}], ValueError, "does not match kind"),
        ([{"mimeType": "video/VP8"}], TypeError, "mediaCodecs[0].kind is required"),
        ([{"kind": "video", "mimeType": "video/rtx"}], ValueError, "RTX is added by the room"),
        ([{"kind": "video", "mimeType": "video/VP8", "clockRate": "90000"}], TypeError, "clockRate must be an int"),
        ([{"kind": "video", "mimeType": "video/VP8", "colour": 1}], TypeError, "unknown key"),
    ],
)
async def test_bad_media_codecs_fail_at_once(server: mediasoup.Server, media_codecs: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        server.Room(mediaCodecs=media_codecs)
    assert message in str(raised.value)
    assert server.rooms == []


async def test_room_options_are_checked(server: mediasoup.Server) -> None:
    with pytest.raises(TypeError, match="forceUniquePayloadTypes must be a bool"):
        server.Room(forceUniquePayloadTypes="yes")
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        server.Room(colour="blue")
    room = await server.Room(force_unique_payload_types=True)
    assert room.forceUniquePayloadTypes is True
    assert (await room.dump())["forceUniquePayloadTypes"] is True


async def test_rooms_go_to_the_least_loaded_worker(options: dict[str, Any]) -> None:
    options["numWorkers"] = 2
    async with mediasoup.Server(options) as server:
        rooms = [server.Room() for _ in range(4)]
        rooms[0].close()
        fifth = server.Room()
        dump = await server.dump()
        counts = sorted(len(worker["rooms"]) for worker in dump["workers"].values())
        assert counts == [2, 2]
        assert fifth._channel is rooms[0]._channel


async def test_closing_a_room_removes_it_from_its_worker(server: mediasoup.Server) -> None:
    room = await server.Room()
    closes: list[Any] = []
    room.on("close", closes.append)
    room.close()
    room.close()
    assert room.closed and closes == [None]
    assert server.rooms == []
    (worker,) = (await server.dump())["workers"].values()
    assert worker["rooms"] == []
    with pytest.raises(InvalidStateError):
        await room.dump()


async def test_room_dump_shows_what_the_worker_holds(server: mediasoup.Server) -> None:
    room = await server.Room()
    dump = await room.dump()
    assert dump["id"] == room.id
    assert dump["peers"] == {}
    assert room.peers == []
