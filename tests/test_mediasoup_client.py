"""mediasoup-client (npm, bundled with esbuild; scripts/test builds it) in
two headless Chromium pages, in a network namespace with only loopback: each
page produces camera and microphone on a send transport and consumes the
other's on a receive transport, the application's signalling calling the
Python API (tests/browser/mediasoup_client_in_chromium.py). Both pages decode
each other, per video codec and with simulcast; and, without media, each
page's ``produceData`` reaches the other's ``consumeData`` (DataReceiver and
DataSender), text and binary, in order."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import pytest

from .chromium import run_driver

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "tests" / "browser" / "mediasoup_client" / "build" / "bundle.js"
CASES = ["vp8", "vp9", "h264", "h264-baseline", "simulcast", "data"]
CHAT_MESSAGES = 40  # per page, as in the driver


@pytest.fixture(scope="module")
def pages() -> dict[str, Any]:
    """What both pages of each case sent and decoded (one browser, a room per case)."""
    missing = None if BUNDLE.exists() else f"the mediasoup-client page is not built ({BUNDLE}; scripts/test builds it with npm)"
    result: dict[str, Any] = run_driver("mediasoup_client_in_chromium.py", *CASES, what="the mediasoup-client test", missing=missing)
    return result


@pytest.mark.parametrize(
    "case",
    [
        "vp8",
        "vp9",
        # The room's H264 at a payload type that is the browser's H264: str0m
        # read it as the room's AV1 RTX (codec_table.rs, router_tests.rs).
        "h264",
        # A room whose H264 is the baseline profile (42001f) Chromium offers first.
        "h264-baseline",
        # Three layers named by rid alone, mid and rid at Chromium's own
        # header-extension ids: the transport learns their SSRCs
        # (rtp_stream_ids.rs); the subscriber gets one layer. An empty CNAME
        # from the client used to make Chromium refuse consume().
        "simulcast",
    ],
)
def test_two_mediasoup_client_pages_decode_each_other(pages: dict[str, Any], case: str) -> None:
    for stats in pages[case]:
        assert stats["handler"] == "Chrome111" and stats["log"] == [], stats
        video = [s for s in stats["inbound"] if s["kind"] == "video"]
        audio = [s for s in stats["inbound"] if s["kind"] == "audio"]
        assert len(video) == 1 and video[0]["framesDecoded"] >= 10, stats
        assert len(audio) == 1 and audio[0]["totalSamplesReceived"] > 0, stats
        codec = {"simulcast": "video/VP8", "h264-baseline": "video/H264"}.get(case, f"video/{case.upper()}")
        assert video[0]["codec"] == codec
        if case == "simulcast":
            rids = sorted(s["rid"] for s in stats["outbound"] if s["kind"] == "video")
            assert rids == ["r0", "r1", "r2"], stats


def test_produce_data_on_each_page_arrives_equal_and_in_order_at_the_others_consume_data(pages: dict[str, Any]) -> None:
    alice, bob = pages["data"]
    for me, other in ((alice, bob), (bob, alice)):
        assert me["handler"] == "Chrome111" and me["log"] == [], me["log"]
        # The page's producer is the server's DataReceiver; the other page consumes it through a DataSender.
        assert (me["producer"]["label"], me["producer"]["protocol"]) == ("chat", "text-and-binary")
        assert me["producer"]["sctpStreamParameters"]["ordered"] is True
        (consumer,) = me["consumers"]
        assert consumer["dataProducerId"] == other["producer"]["id"] and consumer["readyState"] == "open"
        assert (consumer["label"], consumer["protocol"], consumer["sctpStreamParameters"]["ordered"]) == ("chat", "text-and-binary", True)
        # What was sent: text (one of 60,000 UTF-8 bytes) and random bytes up to 64 KiB, in turns.
        sent = me["sent"]
        assert len(sent) == CHAT_MESSAGES
        assert [next(iter(message)) for message in sent] == ["text", "binary"] * (CHAT_MESSAGES // 2)
        sizes = {len(base64.b64decode(message["binary"])) for message in sent if "binary" in message}
        assert sizes == {1, 1000, 16384, 65536}
        assert max(len(message["text"].encode()) for message in sent if "text" in message) > 60_000
        # ... arrived at the other page equal, in the order sent, nothing more.
        assert other["received"] == sent
        (stats,) = other["dataSenderStats"]
        assert (stats["messagesSent"], stats["messagesDropped"]) == (CHAT_MESSAGES, 0)
        payload = [message["text"].encode() if "text" in message else base64.b64decode(message["binary"]) for message in sent]
        assert stats["bytesSent"] == sum(map(len, payload))
