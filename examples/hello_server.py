"""Start a server, create a room, print the server's dump, close.

    python examples/hello_server.py
"""

import asyncio
import json
import logging

import mediasoup


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    # Loopback only, so the demo binds nothing but 127.0.0.1.
    async with mediasoup.Server(numWorkers=2, logLevel="debug", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        server.on("newroom", lambda room: print(f"new room: {room!r}"))
        room = await server.Room()
        print(f"room codecs: {[codec['mimeType'] for codec in room.rtpCapabilities['codecs']]}")
        print(json.dumps(await server.dump(), indent=2))


if __name__ == "__main__":
    asyncio.run(main())
