"""The load generator (bench/loadgen, Rust) as an asyncio object, and what
the benchmark reads off processes: CPU time and resident memory from /proc."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import subprocess
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = ROOT / "target" / "release" / "loadgen"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
#: The publisher's streams, whatever the SFU.
VIDEO_SSRC, VIDEO_RTX_SSRC, AUDIO_SSRC = 0x11110000, 0x11110001, 0x22220000


def build() -> pathlib.Path:
    """Builds the load generator (release) if needed; answers its path. With
    `MEDIASOUP_LOADGEN` set, that binary is used as it is (no cargo: a
    worktree sharing another's build, or a machine without a toolchain)."""
    if os.environ.get("MEDIASOUP_LOADGEN"):
        return pathlib.Path(os.environ["MEDIASOUP_LOADGEN"])
    # The workspace's features, as scripts/test builds it: `-p loadgen` alone
    # would resolve other features and rebuild half the crates.
    subprocess.run(["cargo", "build", "--release", "--locked", "--workspace", "--bins", "--quiet"], cwd=ROOT, check=True)
    return BINARY


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def stop(process: asyncio.subprocess.Process | None) -> None:
    """Ends an SFU's process: SIGTERM, then SIGKILL after 10 s."""
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()


def pin(pid: int, cpu: int | None) -> None:
    """Pins a process (all its threads) to one core, if taskset is there."""
    if cpu is None or shutil.which("taskset") is None:
        return
    subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=False, stdout=subprocess.DEVNULL)


class Loadgen:
    """One load-generator process: connect clients, open and close the
    measurement window, read the counts."""

    def __init__(self, process: asyncio.subprocess.Process, ready: dict[str, Any]) -> None:
        self.process = process
        self.fingerprint: str = ready["fingerprint"]
        #: Each thread's socket address (the candidate an SDP offer or answer names).
        self.addresses: list[str] = ready["addresses"]
        self.connected: dict[str, float] = {}
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.errors: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, threads: int = 1, cpu: int | None = None, bind: str = "127.0.0.1") -> Loadgen:
        binary = build()
        command = [str(binary), "--threads", str(threads), "--bind", bind]
        if cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(cpu), *command]
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24
        )
        assert process.stdout is not None
        ready = json.loads(await process.stdout.readline())
        return cls(process, ready)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def dtls_parameters(self) -> dict[str, Any]:
        """What the server's transport is told of a client: its certificate (it is the DTLS server)."""
        algorithm, value = self.fingerprint.split(" ", 1)
        return {"role": "server", "fingerprints": [{"algorithm": algorithm, "value": value}]}

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            event = message.get("event")
            if event == "connected":
                self.connected[message["id"]] = message["ms"]
                waiter = self._waiters.pop(message["id"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message["ms"])
            elif event == "error":
                self.errors.append(message)
                waiter = self._waiters.pop(message.get("id", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_exception(RuntimeError(message["message"]))
            elif event in ("stats", "window"):
                await self._replies.put(message)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())

    def connect(self, client_id: str, role: str, server: dict[str, Any], extensions: list[list[Any]],
                codecs: list[dict[str, Any]], streams: list[dict[str, Any]], local: dict[str, str] | None = None,
                dtls_client: bool = False, ice_controlling: bool = True, clip: str | None = None,
                frames: bool = False, data: dict[str, Any] | None = None, own_socket: bool = False) -> asyncio.Future[float]:
        """Starts a client (on the first thread when `local` ICE credentials
        are given: its address is in an SDP); the future resolves when its
        DTLS is connected. A publisher with a `clip` sends that file's real
        media; a subscriber with `frames` counts such media (video frames by
        RTP timestamp, audio packets by arrival). With `data` (`{'label',
        'rate', 'size', 'sctp_client'?}`) the client opens that data channel
        in band; a publisher sends `rate` messages of `size` bytes a second on
        it. With `own_socket` the client has a UDP socket of its own, as a
        browser's peer connection has, rather than its thread's (needed where
        the server's transports share one address)."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[client_id] = waiter
        message: dict[str, Any] = {"op": "connect", "id": client_id, "role": role, "server": server,
                                   "extensions": extensions, "codecs": codecs, "streams": streams, "dtls_client": dtls_client,
                                   "ice_controlling": ice_controlling, "clip": clip, "frames": frames, "data": data,
                                   "own_socket": own_socket}
        if local is not None:
            message.update(local=local, thread=0)
        self._send(message)
        return waiter

    async def window(self, open: bool) -> None:
        self._send({"op": "window", "open": open})
        await self._replies.get()

    async def stats(self) -> dict[str, Any]:
        self._send({"op": "stats"})
        return await self._replies.get()

    async def close(self) -> None:
        if self.process.returncode is None:
            self._send({"op": "quit"})
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()
