"""A program that uses a server and simply returns exits cleanly: the
extension's threads (Channel readers, the logging bridge) never call into an
interpreter that is finalizing (which made CPython abort the process in
about one exit out of four)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, logging, mediasoup
logging.basicConfig(level=logging.DEBUG)

async def main():
    async with mediasoup.Server(numWorkers=2, logLevel="debug", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        room = await server.Room()
        peer = await room.Peer("x")
        await peer.createTransport(tcp=False)
        await server.dump()

asyncio.run(main())
"""


def test_a_program_that_used_a_server_exits_cleanly() -> None:
    runs = [subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(16)]
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0 and "Fatal Python error" not in stderr, stderr[-2000:]
