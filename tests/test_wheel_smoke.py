"""The smoke subset an installed wheel must pass on every CPython it claims
(scripts/wheel-smoke runs this file in a fresh virtualenv per interpreter,
with no Rust toolchain on PATH): a server starts its workers, a room takes
two aiortc peers, one publishes audio and video and the other decodes
them. It needs nothing but the wheel, pytest, pytest-asyncio and aiortc.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
import sysconfig

import pytest

import mediasoup
from mediasoup.webrtc import RTCPeerConnection


def test_the_package_is_the_installed_one_and_names_its_version() -> None:
    if os.environ.get("MEDIASOUP_SMOKE") == "1":
        # In the smoke run, the package must come from the wheel, never from the source tree.
        installed = {pathlib.Path(sysconfig.get_paths()[name]).resolve() for name in ("purelib", "platlib")}
        assert pathlib.Path(mediasoup.__file__).resolve().parent.parent in installed, mediasoup.__file__
    result = subprocess.run([sys.executable, "-m", "mediasoup", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mediasoup {mediasoup.__version__}"


async def test_a_server_a_room_and_a_call_between_two_aiortc_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCSessionDescription
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    # aioice never offers loopback on its own: the call stays on 127.0.0.1.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        dump = await server.dump()
        (worker,) = dump["workers"].values()
        assert worker["closed"] is False and worker["pid"] > 0
        room = await server.Room()
        alice, bob = await room.Peer("alice"), await room.Peer("bob")
        publisher, viewer = AiortcPeerConnection(RTCConfiguration(iceServers=[])), AiortcPeerConnection(RTCConfiguration(iceServers=[]))
        alice_pc, bob_pc = RTCPeerConnection(alice), RTCPeerConnection(bob)
        frames: dict[str, int] = {}
        readers: list[asyncio.Task[None]] = []

        async def count(track: object) -> None:
            while True:
                try:
                    await track.recv()  # type: ignore[attr-defined]
                except Exception:
                    return
                kind = str(track.kind)  # type: ignore[attr-defined]
                frames[kind] = frames.get(kind, 0) + 1

        viewer.on("track", lambda track: readers.append(asyncio.ensure_future(count(track))))
        try:
            publisher.addTrack(AudioStreamTrack())
            publisher.addTrack(VideoStreamTrack())
            for client, server_side in ((publisher, alice_pc), (viewer, bob_pc)):
                if client is viewer:
                    # bob asks once alice's streams are in the room: they come in the answer.
                    for _ in range(100):
                        if len(alice.rtpReceivers) == 2:
                            break
                        await asyncio.sleep(0.05)
                    client.addTransceiver("audio", direction="recvonly")
                    client.addTransceiver("video", direction="recvonly")
                await client.setLocalDescription(await client.createOffer())
                await server_side.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
                await server_side.setLocalDescription()
                assert server_side.localDescription is not None
                await client.setRemoteDescription(RTCSessionDescription(sdp=server_side.localDescription.sdp, type="answer"))
            for _ in range(400):
                if frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20:
                    break
                await asyncio.sleep(0.05)
            assert frames.get("audio", 0) >= 50 and frames.get("video", 0) >= 20, frames
            (stats,) = await bob_pc.transport.getStats()  # type: ignore[union-attr]
            assert stats["dtlsState"] == "connected" and stats["bytesSent"] > 0
        finally:
            for reader in readers:
                reader.cancel()
            await publisher.close()
            await viewer.close()
            alice_pc.close()
            bob_pc.close()
