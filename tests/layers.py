"""Simulcast published from Python and watched at a subscriber: three
encodings by SSRC on a direct transport (a size and a colour per layer,
so a decoded frame says which layer it came from), and the latest frame a
pymediasoup consumer decoded."""

from __future__ import annotations

import asyncio

import mediasoup
from mediasoup.media import TrackPublisher

from .clients import Subscriber, colour_track, mean_colour, until

# The layers, lowest first: (SSRC, size, colour).
LAYERS = [(0x1111, (320, 180), (255, 0, 0)), (0x2222, (640, 360), (0, 255, 0)), (0x3333, (1280, 720), (0, 0, 255))]


async def publish_layers(peer: mediasoup.Peer, *, start: bool = True) -> tuple[mediasoup.RtpReceiver, list[TrackPublisher]]:
    """A receiver of ``peer`` publishing the three :data:`LAYERS` (started
    unless ``start`` is false), and the publisher of each."""
    transport = await peer.createDirectTransport()
    receiver = peer.RtpReceiver("video", transport)
    publishers = [TrackPublisher(colour_track(colour, size), receiver, ssrc=ssrc, cname=peer.name) for ssrc, size, colour in LAYERS]
    parameters = publishers[0].rtpParameters
    parameters["encodings"] = [{"ssrc": ssrc} for ssrc, _, _ in LAYERS]
    await receiver.receive(parameters)
    if start:
        for publisher in publishers:
            publisher.start()
    return receiver, publishers


async def add_viewers(room: mediasoup.Room, names: list[str], subscribers: list[Subscriber], watchers: dict[str, SizeWatcher]) -> list[mediasoup.RtpSender]:
    """pymediasoup subscribers named ``names`` in ``room`` (appended to
    ``subscribers`` as they start, for the caller to close; each watched in
    ``watchers``); answers their first senders, in the order of ``names``."""
    senders = []
    for name in names:
        peer = await room.Peer(name)
        subscriber = Subscriber(room, peer)
        subscribers.append(subscriber)
        await subscriber.start()
        watchers[name] = SizeWatcher(subscriber)
        watchers[name].start()
        senders.append(peer.rtpSenders[0])
    return senders


async def stop_all(watchers: dict[str, SizeWatcher], publishers: list[TrackPublisher], subscribers: list[Subscriber]) -> None:
    """Stops what :func:`publish_layers` and :func:`add_viewers` started."""
    for watcher in watchers.values():
        watcher.stop()
    for publisher in publishers:
        publisher.stop()
    for subscriber in subscribers:
        await subscriber.close()


class SizeWatcher:
    """The size and colour of the latest frame a pymediasoup consumer decoded."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        self.latest: tuple[int, int, tuple[float, float, float]] | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _watch(self) -> None:
        await until(lambda: "video" in self.subscriber.consumers, 10, lambda: "no video consumer")
        track = self.subscriber.consumers["video"].track
        while True:
            frame = await track.recv()
            self.latest = (frame.width, frame.height, mean_colour(frame))

    def shows(self, layer: int) -> bool:
        """Whether the latest frame is of layer ``layer``: its size and its colour."""
        return self.latest is not None and self.latest[0] == LAYERS[layer][1][0] and colour_of(self.latest) == layer


def colour_of(latest: tuple[int, int, tuple[float, float, float]] | None) -> int | None:
    """The index of the layer whose colour the frame has (its strongest channel)."""
    if latest is None:
        return None
    colour = latest[2]
    return max(range(3), key=lambda channel: colour[channel])
