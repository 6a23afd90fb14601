"""Hostile values through the public API, as a remote client could send them
through an application's signalling: each raises a clear error or is served,
and none crashes the interpreter or leaves an ``await`` pending."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import mediasoup
from mediasoup import _mediasoup

from .conftest import LOOPBACK

OPUS = {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}


def nested(depth: int) -> dict[str, Any]:
    """``depth`` dicts, each inside the one before (built without recursion)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def capabilities_with_parameters(parameters: Any) -> dict[str, Any]:
    """rtpCapabilities (depth 4 down to the codec's parameters) around ``parameters``."""
    codec = {"kind": "audio", "mimeType": "audio/opus", "preferredPayloadType": 111, "clockRate": 48000, "channels": 2}
    return {"codecs": [{**codec, "parameters": parameters}], "headerExtensions": []}


# Each case runs in a child process: before the fix these crashed the
# interpreter (a segmentation fault in the conversion to JSON).
CHILD = """
import asyncio, json, sys
import mediasoup

def nested(depth):
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value

def cyclic_dict():
    value = {"x": 1}
    value["self"] = value
    return value

def cyclic_list():
    value = [1]
    value.append(value)
    return value

HOSTILE = {"deep": lambda: nested(14_000), "cyclic_dict": cyclic_dict, "cyclic_list": cyclic_list}
OPUS = {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}

async def main(where, hostile):
    async with mediasoup.Server(numWorkers=1, logLevel="warn", rtcListenIPv4="127.0.0.1", rtcListenIPv6=False) as server:
        try:
            if where == "mediaCodecs":
                codec = {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "parameters": hostile}
                await server.Room(mediaCodecs=[codec])
            room = await server.Room()
            peer = await room.Peer("alice")
            if where == "setCapabilities":
                codec = {"mimeType": "audio/opus", "preferredPayloadType": 111, "clockRate": 48000, "parameters": hostile}
                await peer.setCapabilities({"codecs": [codec]})
            if where == "receive":
                receiver = peer.RtpReceiver("audio", await peer.createTransport(tcp=False))
                await receiver.receive({"codecs": [{**OPUS, "parameters": hostile}], "encodings": [{"ssrc": 1}]})
        except Exception as error:
            print(json.dumps([type(error).__name__, str(error)]))
            # The server serves on after the refusal.
            await (await server.Room()).Peer("bob")
            return
        print(json.dumps(["accepted", ""]))

asyncio.run(asyncio.wait_for(main(sys.argv[1], HOSTILE[sys.argv[2]]()), 20))
"""


@pytest.mark.parametrize("where", ["setCapabilities", "receive", "mediaCodecs"])
@pytest.mark.parametrize("hostile", ["deep", "cyclic_dict", "cyclic_list"])
def test_deep_or_cyclic_values_raise_value_error_instead_of_crashing(where: str, hostile: str) -> None:
    run = subprocess.run([sys.executable, "-c", CHILD, where, hostile], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    kind, message = json.loads(run.stdout.strip().splitlines()[-1])
    assert kind == "ValueError", message
    argument = {"setCapabilities": "rtpCapabilities", "receive": "rtpParameters", "mediaCodecs": "mediaCodecs"}[where]
    assert message.startswith(f"{argument}["), message
    expected = "nests containers more than 64 levels deep" if hostile == "deep" else "contains itself (a cyclic reference)"
    assert expected in message, message


async def test_the_depth_limit_is_64_levels_and_nothing_deeper_reaches_the_worker(server: mediasoup.Server) -> None:
    assert _mediasoup.MAX_DEPTH == 64
    room = await server.Room()
    peer = await room.Peer("alice")
    # Three containers hold the parameters: 61 levels of them make 64.
    accepted = capabilities_with_parameters(nested(61))
    await asyncio.wait_for(peer.setCapabilities(accepted), 5)
    assert peer.capabilities is not None and peer.capabilities["codecs"][0]["parameters"] == nested(61)
    # 122 levels used to leave the await pending forever (the worker's reader
    # stopped at 128 before it read the request's id); 1,000 is what
    # Python's json.loads still takes from a client.
    for depth in (62, 122, 1000):
        with pytest.raises(ValueError, match=r"rtpCapabilities\['codecs'\]\[0\]\['parameters'\]\['a'\].*more than 64 levels"):
            await asyncio.wait_for(peer.setCapabilities(capabilities_with_parameters(nested(depth))), 5)
    # The same value twice (not a cycle) is fine.
    shared = {"x": 1}
    await peer.setCapabilities(capabilities_with_parameters({"one": shared, "two": shared}))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("clockRate", float("nan"), "['clockRate'] must be a finite number, not NaN"),
        ("channels", float("inf"), "['channels'] must be a finite number, not inf"),
        ("preferredPayloadType", float("-inf"), "['preferredPayloadType'] must be a finite number, not -inf"),
    ],
)
async def test_nan_and_infinity_in_room_codecs_raise_naming_the_field(server: mediasoup.Server, field: str, value: float, expected: str) -> None:
    codec = {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, field: value}
    with pytest.raises(ValueError) as raised:
        server.Room(mediaCodecs=[codec])
    assert str(raised.value) == f"mediaCodecs[0]{expected}"


async def test_bad_numbers_in_rtp_parameters_raise_naming_the_field(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    transport = await peer.createTransport(tcp=False)
    receiver = peer.RtpReceiver("audio", transport)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"codecs": [{**OPUS, "clockRate": float("nan")}], "encodings": [{"ssrc": 1}]}, r"rtpParameters\['codecs'\]\[0\]\['clockRate'\] must be a finite number"),
        ({"codecs": [OPUS], "encodings": [{"ssrc": 1, "maxBitrate": float("inf")}]}, r"\['maxBitrate'\] must be a finite number, not inf"),
        ({"codecs": [OPUS], "encodings": [{"ssrc": 1, "maxBitrate": -1}]}, r"encodings\[0\]\.maxBitrate must be a number >= 0, not -1"),
        ({"codecs": [{**OPUS, "channels": -2}], "encodings": [{"ssrc": 1}]}, r"codecs\[0\]\.channels must be an int of 1-255, not -2"),
        ({"codecs": [OPUS], "encodings": [{"ssrc": 2**64}]}, r"out of the 64-bit integer range"),
    ]
    for parameters, message in cases:
        with pytest.raises(ValueError, match=message):
            await receiver.receive(parameters)
    # Nothing of it stuck: the receiver still takes good parameters.
    assert receiver.rtpParameters is None
    await receiver.receive({"codecs": [OPUS], "encodings": [{"ssrc": 1, "maxBitrate": 64000}]})


async def test_values_json_cannot_carry_raise_type_error(server: mediasoup.Server) -> None:
    room = await server.Room()
    peer = await room.Peer("alice")
    with pytest.raises(ValueError, match=r"rtpCapabilities\['codecs'\]\[0\]\['parameters'\]\['x'\] is not valid Unicode text"):
        await peer.setCapabilities(capabilities_with_parameters({"x": "\ud800"}))
    with pytest.raises(ValueError, match=r"\['parameters'\] is not valid Unicode text"):
        await peer.setCapabilities(capabilities_with_parameters({"\udfff": 1}))
    with pytest.raises(ValueError, match="is not valid Unicode text"):
        room.Peer("\ud800")
    with pytest.raises(TypeError, match=r"rtpCapabilities\['codecs'\]\[0\]\['parameters'\]\['x'\] must be a str, int, float, bool, None, dict or list, not set"):
        await peer.setCapabilities(capabilities_with_parameters({"x": {1, 2}}))
    with pytest.raises(TypeError, match=r"\['parameters'\]: dict keys must be str, not int"):
        await peer.setCapabilities(capabilities_with_parameters({1: "one"}))


async def test_requests_have_at_most_half_a_frame_so_their_echo_fits_in_one(server: mediasoup.Server) -> None:
    peer = await (await server.Room()).Peer("alice")
    # 7 MiB of capabilities come back normalised in the answer.
    big = capabilities_with_parameters({"x": "y" * (7 * 1024 * 1024)})
    await asyncio.wait_for(peer.setCapabilities(big), 10)
    assert peer.capabilities is not None and len(peer.capabilities["codecs"][0]["parameters"]["x"]) == 7 * 1024 * 1024
    with pytest.raises(ValueError, match="peer.setCapabilities request of 943.* bytes exceeds the Channel's 8388608-byte limit"):
        await peer.setCapabilities(capabilities_with_parameters({"x": "y" * (9 * 1024 * 1024)}))
    assert len((await peer.dump())["capabilities"]["codecs"][0]["parameters"]["x"]) == 7 * 1024 * 1024


async def test_peer_names_have_at_most_256_characters(server: mediasoup.Server) -> None:
    room = await server.Room()
    assert _mediasoup.MAX_PEER_NAME_CHARS == 256
    await room.Peer("é" * 256)
    # Ten million characters were accepted, and every dump of the room then hung.
    for name in ("x" * 257, "x" * 10_000_000):
        with pytest.raises(ValueError, match=f"a peer name has at most 256 characters, not {len(name)}"):
            room.Peer(name)
    dump = await asyncio.wait_for(room.dump(), 5)
    assert list(dump["peers"]) == ["é" * 256]


async def test_the_dump_of_a_room_too_big_for_one_answer_comes_whole() -> None:
    # 5,000 peers with the capabilities a client sends: ~20 MB of dump, over
    # the Channel's 16 MiB frame (the dump's await used to never return).
    async with mediasoup.Server(numWorkers=1, logLevel="warn", **LOOPBACK) as server:
        room = await server.Room()
        capabilities = room.rtpCapabilities
        peers = [room.Peer(f"peer-{index}") for index in range(5000)]
        await asyncio.gather(*(peer.setCapabilities(capabilities) for peer in peers))
        dump = await asyncio.wait_for(room.dump(), 60)
        assert sorted(dump["peers"]) == sorted(f"peer-{index}" for index in range(5000))
        assert all(entry["capabilities"]["codecs"] for entry in dump["peers"].values())
        assert len(json.dumps(dump)) > 16 * 1024 * 1024
        assert "nextPeer" not in dump and dump["rtpReceivers"] == {}


async def test_a_worker_survives_a_request_too_deep_for_its_reader(server: mediasoup.Server) -> None:
    # Below the public API (which refuses such values): a frame the worker's
    # JSON reader stops in is answered with its id, read from the frame's head.
    channel = server._channels[0]
    depth = 200
    frame = ('{"id":4000000,"method":"worker.dump","data":' + '{"a":' * depth + "1" + "}" * depth + "}").encode()
    channel.process._send_raw(len(frame).to_bytes(4, "big") + frame)
    dump = await asyncio.wait_for(server.dump(), 5)
    assert len(dump["workers"]) == 1


def _fifo(path: str) -> str:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: _fifo(os.path.join(tmp, "cert.fifo")), "is not a regular file"),
        (lambda tmp: "/dev/zero", "is not a regular file"),
        (lambda tmp: tmp, "is not a regular file"),
    ],
    ids=["fifo", "dev-zero", "directory"],
)
async def test_certificate_files_must_be_regular_files(tmp_path: Any, make: Any, expected: str) -> None:
    path = make(str(tmp_path))
    with pytest.raises(ValueError, match=f"dtlsCertificateFile '{path}' {expected}"):
        # A FIFO used to block the event loop forever, /dev/zero to read until memory ran out.
        await asyncio.wait_for(mediasoup.Server(numWorkers=1, dtlsCertificateFile=path, dtlsPrivateKeyFile=path, **LOOPBACK), 5)


async def test_a_certificate_file_over_the_size_cap_is_refused(tmp_path: Any) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(b"-" * (1024 * 1024 + 1))
    with pytest.raises(ValueError, match=r"has 1048577 bytes, more than the 1048576 a PEM file may have"):
        mediasoup.Server(numWorkers=1, dtlsCertificateFile=big, dtlsPrivateKeyFile=big, **LOOPBACK)


async def test_a_server_is_constructed_before_its_certificate_is_read() -> None:
    # The read (or the key generation) runs in a thread: the constructor
    # returns at once, and requests made meanwhile wait for worker.init.
    server = mediasoup.Server(numWorkers=1, logLevel="warn", **LOOPBACK)
    try:
        room = server.Room()
        peer = room.Peer("alice")
        await asyncio.wait_for(peer, 10)
        assert (await server.dump())["dtlsFingerprints"]
    finally:
        server.close()

