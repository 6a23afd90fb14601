"""One stage, an audience bigger than a core: the publishers join the
stage room; each viewer joins a hall, a room piped from the stage
(``room.pipeTo``), holding at most ``viewers_per_hall`` viewers. When every
hall is full a new one opens on the least loaded worker, so the audience
grows into a tree of pipes one worker at a time. docs/broadcast.md is the
plan for 10,000 viewers this grows into, with its figures.

    broadcast = Broadcast(server, viewers_per_hall=300)
    stage = await broadcast.start()                  # publishers join here
    hall = await broadcast.hall_for_viewer()         # each viewer joins its hall
    viewer = await hall.Peer("viewer-42")

Run it to watch halls open (a stage with no publisher, viewers that only join):

    python examples/broadcast/broadcast.py --viewers 12 --per-hall 5
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import mediasoup

_logger = logging.getLogger("broadcast")


class Broadcast:
    """A stage room and the halls piped from it (see the module)."""

    def __init__(self, server: mediasoup.Server, viewers_per_hall: int = 300) -> None:
        if viewers_per_hall < 1:
            raise ValueError("viewers_per_hall must be at least 1")
        self.server = server
        self.viewers_per_hall = viewers_per_hall
        self.stage: mediasoup.Room | None = None
        self.halls: list[mediasoup.Room] = []
        self._opening = asyncio.Lock()

    async def start(self) -> mediasoup.Room:
        """The stage (on the least loaded worker): where the publishers join."""
        self.stage = await self.server.Room()
        return self.stage

    async def hall_for_viewer(self) -> mediasoup.Room:
        """The open hall with the fewest viewers, if one has room; else a new
        hall, piped from the stage. Halls that closed are forgotten."""
        async with self._opening:
            self.halls = [hall for hall in self.halls if not hall.closed]
            open_halls = [hall for hall in self.halls if len(hall.peers) < self.viewers_per_hall]
            if open_halls:
                return min(open_halls, key=lambda hall: len(hall.peers))
            return await self._open_hall()

    async def _open_hall(self) -> mediasoup.Room:
        if self.stage is None or self.stage.closed:
            raise mediasoup.errors.InvalidStateError("the broadcast has no stage: start() it")
        hall = await self.server.Room()
        await self.stage.pipeTo(hall)
        self.halls.append(hall)
        _logger.info("hall %d opened: %r", len(self.halls), hall)
        return hall

    def close(self) -> None:
        """Closes the halls and the stage (their pipes with them)."""
        for room in [*self.halls, *([self.stage] if self.stage else [])]:
            room.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=12)
    parser.add_argument("--per-hall", type=int, default=5)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    async with mediasoup.Server(numWorkers=3, rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        broadcast = Broadcast(server, viewers_per_hall=arguments.per_hall)
        await broadcast.start()
        for index in range(arguments.viewers):
            hall = await broadcast.hall_for_viewer()
            await hall.Peer(f"viewer-{index}")
        for number, hall in enumerate(broadcast.halls, 1):
            print(f"hall {number}: {len(hall.peers)} viewers, {repr(hall)}")


if __name__ == "__main__":
    asyncio.run(main())
