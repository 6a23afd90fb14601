"""The broadcast example (examples/broadcast/broadcast.py): a stage on one
worker, halls of at most two viewers opening on the others as viewers
come, each piped from the stage; every viewer (a pymediasoup client)
decodes the publisher's audio and video."""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType
from typing import Any

import mediasoup
import pytest

from .clients import MediasoupClient, Subscriber, colour_track, tone_track, until
from .conftest import LOOPBACK

ROOT = pathlib.Path(__file__).resolve().parents[1]


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("broadcast_example", ROOT / "examples" / "broadcast" / "broadcast.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def options() -> dict[str, Any]:
    return {"numWorkers": 3, "logLevel": "warn", **LOOPBACK}


async def test_the_audience_grows_into_halls_piped_from_the_stage(server: mediasoup.Server) -> None:
    broadcast = example().Broadcast(server, viewers_per_hall=2)
    stage = await broadcast.start()
    alice = await stage.Peer("alice")
    publisher = MediasoupClient(stage, alice)
    await publisher.load()
    await alice.setCapabilities(publisher.device.rtpCapabilities.model_dump(exclude_none=True))
    await publisher.publish(await alice.createTransport(), [colour_track((200, 120, 20)), tone_track(0.3, 500.0)])
    viewers = []
    try:
        for index in range(5):
            hall = await broadcast.hall_for_viewer()
            await until(lambda: len(hall.pipes[0].copies) == 2, 10, lambda: hall.pipes)
            viewer = Subscriber(hall, await hall.Peer(f"viewer-{index}"))
            await viewer.start()
            viewers.append(viewer)
        assert [len(hall.peers) for hall in broadcast.halls] == [2, 2, 1]
        assert {hall._channel.index for hall in broadcast.halls} == {0, 1, 2}, "halls spread over the workers"
        await until(
            lambda: all(v.frames.get("video", 0) >= 20 and v.frames.get("audio", 0) >= 30 for v in viewers),
            30,
            lambda: [v.frames for v in viewers],
        )
        # A viewer leaves: the next one takes its place rather than opening a hall.
        viewers[0].peer.close()
        assert await broadcast.hall_for_viewer() is broadcast.halls[0]
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.close()
        broadcast.close()
    assert all(hall.closed for hall in broadcast.halls) and stage.closed
