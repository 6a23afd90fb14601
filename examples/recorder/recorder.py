"""Records every participant of a room to a file of its own: their audio and
video as they were sent (Opus, VP8 or H264), without transcoding.

    python examples/recorder/recorder.py recordings/ [--host 127.0.0.1] [--port 8080]

serves the browser demo (mediasoup.demo.app) and records each room
it opens: ``recordings/<room>/<name>.webm`` per participant (``.mkv`` if it
sends H264). Open the page in two tabs and talk; closing a tab finalizes its
file, Ctrl-C finalizes the others. The recorder is a participant of the room
(named ``recorder``): the pages show it, and everyone knows they are recorded.

As a library, for any room::

    recorder = await record_room(room, "recordings/")
    ...
    await recorder.close()          # finalizes every file

How: the recorder is a peer with a direct transport; each stream of another
peer comes as one of its RtpSenders (``newrtpsender``), and
``mediasoup.media.recordPeer`` writes a peer's senders into one file. A
container's tracks are fixed when it starts, so a participant's file starts
once it has an audio and a video stream, or ``settle`` seconds after its
first one; a stream it adds later starts no file (it is logged).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import pathlib
import re
from typing import Any

import mediasoup
from mediasoup import media

_logger = logging.getLogger("recorder")


def file_name(name: str) -> str:
    """`name` (a peer's or a room's, chosen by a page) as a file name of this directory only."""
    return re.sub(r"[^\w.-]", "_", name).lstrip(".")[:64] or "unnamed"


class RoomRecorder:
    """Records each other peer of `room` into `directory` (see the module)."""

    def __init__(self, room: mediasoup.Room, directory: str | pathlib.Path, settle: float = 1.0) -> None:
        self.room = room
        self.directory = pathlib.Path(directory)
        self.settle = settle
        self.peer: mediasoup.Peer | None = None
        self.direct: Any = None
        #: The recordings, by publishing peer.
        self.recorders: dict[mediasoup.Peer, media.Recorder] = {}
        self._waiting: dict[mediasoup.Peer, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def files(self) -> list[pathlib.Path]:
        return [pathlib.Path(recorder.path) for recorder in self.recorders.values()]

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = "recorder"
        while self.room.getPeer(name) is not None:
            name += "_"
        self.peer = await self.room.Peer(name)
        self.direct = await self.peer.createDirectTransport()
        self.peer.on("newrtpsender", self._on_sender)
        for sender in self.peer.rtpSenders:
            self._on_sender(sender)

    def _on_sender(self, sender: mediasoup.RtpSender) -> None:
        publisher = sender.associatedRtpReceiver.peer
        if not isinstance(publisher, mediasoup.Peer):
            return
        if publisher in self.recorders:
            _logger.warning("%s: a %s stream added after the recording started is not recorded", publisher.name, sender.kind)
            return
        if publisher in self._waiting:
            self._waiting.pop(publisher).cancel()
        kinds = {other.kind for other in self._senders_of(publisher)}
        delay = 0.0 if kinds >= {"audio", "video"} else self.settle
        loop = asyncio.get_running_loop()
        self._waiting[publisher] = loop.call_later(delay, self._spawn, publisher)

    def _senders_of(self, publisher: mediasoup.Peer) -> list[mediasoup.RtpSender]:
        assert self.peer is not None
        return [sender for sender in self.peer.rtpSenders if sender.associatedRtpReceiver.peer is publisher]

    def _spawn(self, publisher: mediasoup.Peer) -> None:
        self._waiting.pop(publisher, None)
        task = asyncio.ensure_future(self._record(publisher))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, publisher: mediasoup.Peer) -> None:
        if publisher.closed or publisher in self.recorders:
            return
        h264 = any(codec["mimeType"].lower() == "video/h264"
                   for sender in self._senders_of(publisher) for codec in sender.rtpParameters["codecs"])
        stem, suffix = file_name(publisher.name), ".mkv" if h264 else ".webm"
        path, number = self.directory / f"{stem}{suffix}", 1
        while path.exists() or any(recorder.path == str(path) for recorder in self.recorders.values()):
            number += 1  # the same name again (a participant who came back)
            path = self.directory / f"{stem}-{number}{suffix}"
        try:
            recorder = await media.recordPeer(publisher, self.direct, path)
        except (ValueError, mediasoup.errors.MediasoupError) as error:
            _logger.warning("%s is not recorded: %s", publisher.name, error)
            return
        self.recorders[publisher] = recorder
        _logger.info("recording %s to %s", publisher.name, path)
        recorder.on("ended", lambda: _logger.info("%s: %s is finalized", publisher.name, path))

    async def close(self) -> None:
        """Stops every recording (the files are finalized) and leaves the room."""
        for timer in self._waiting.values():
            timer.cancel()
        for task in list(self._tasks):
            await task
        await asyncio.gather(*(recorder.stop() for recorder in self.recorders.values()))
        if self.peer is not None:
            self.peer.close()


async def record_room(room: mediasoup.Room, directory: str | pathlib.Path, settle: float = 1.0) -> RoomRecorder:
    """A started :class:`RoomRecorder` of `room` into `directory`."""
    recorder = RoomRecorder(room, directory, settle)
    await recorder.start()
    return recorder


async def serve(directory: pathlib.Path, host: str, port: int) -> None:
    """The browser demo on `host`:`port`, every room it opens recorded under `directory`."""
    from aiohttp import web

    from mediasoup.demo import app as demo_module

    recorders: dict[mediasoup.Room, RoomRecorder] = {}
    lock = asyncio.Lock()
    async with mediasoup.Server({"numWorkers": 1, "rtcListenIPv4": host, "rtcListenIPv6": False}) as server:
        app = demo_module.application(server)
        demo = app[demo_module.DEMO]
        open_room = demo.room

        async def room(name: str) -> mediasoup.Room:
            # The demo's rooms, each with its recorder from its first participant on.
            opened: mediasoup.Room = await open_room(name)
            async with lock:
                if opened not in recorders:
                    recorders[opened] = await record_room(opened, directory / file_name(name))
            return opened

        demo.room = room
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        print(f"the demo is at http://{host}:{port}/; recordings go to {directory}/<room>/<name>.webm", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.gather(*(recorder.close() for recorder in recorders.values()))
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=pathlib.Path, help="where the recordings go: <directory>/<room>/<name>.webm")
    parser.add_argument("--host", default="127.0.0.1", help="the address of the page and the media")
    parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(arguments.directory, arguments.host, arguments.port))
    except KeyboardInterrupt:
        pass  # asyncio.run cancelled serve(): its finally finalized the files


if __name__ == "__main__":
    main()
