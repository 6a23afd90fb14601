"""The browser demo in headless Chromium (Debian's, driven by Playwright),
in a network namespace that has only loopback. One run of
tests/browser/demo_in_chromium.py (one browser) serves the tests below:
alice and bob join with their names and decode each other, carol is
refused alice's name, joins as carol and sees both; text chat both ways
arrives in order, a 5 MiB file arrives byte-equal, the unordered and
unreliable 'cursor' channel delivers, a page that opened no 'chat' channel
gets the server's; the active speaker is highlighted; muting silences what
the others hear; leaving removes the tile. The screenshot of alice's page
is kept in tests/artifacts/browser_demo.png. Then a page publishes with
WHIP (``fetch``), and a page of its room and a WHEP page decode it; and the
app started as for a phone (``--host 0.0.0.0 --tls``) serves two pages over
https with its self-signed certificate accepted."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import pathlib
import re
import ssl
from typing import Any

import pytest

from .chromium import run_driver

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "tests" / "artifacts" / "browser_demo.png"
FILE_BYTES = 5 * 1024 * 1024
Result = dict[str, Any]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    SCREENSHOT.unlink(missing_ok=True)
    file = tmp_path_factory.mktemp("chat") / "holiday.bin"
    file.write_bytes(os.urandom(FILE_BYTES))
    result: Result = run_driver("demo_in_chromium.py", SCREENSHOT, file, what="the browser test")
    result["file_sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    return result


def step(run: Result, name: str) -> Any:
    """What the step `name` found; fails with its error if it failed."""
    found = run[name]
    if isinstance(found, dict) and "error" in found:
        pytest.fail(f"{name}: {found['error']}\n{found.get('trace', '')}")
    return found


def decoded(stats: Result, kind: str) -> list[dict[str, Any]]:
    return [s for s in stats["inbound"].values() if s["kind"] == kind]


def decodes(stats: Result, publishers: list[str]) -> None:
    """`stats` show video frames and audio samples decoded from each of `publishers`."""
    assert stats["connectionState"] == "connected"
    assert sorted(stats["streams"]) == sorted(publishers)
    for kind, counter, least in (("video", "framesDecoded", 10), ("audio", "totalSamplesReceived", 1)):
        streams = decoded(stats, kind)
        assert sorted(s["peer"] for s in streams) == sorted(publishers), streams
        assert all(s[counter] >= least for s in streams), streams


def test_two_named_pages_decode_each_other_and_a_third_joins_late(run: Result) -> None:
    alice, bob = step(run, "two")
    decodes(alice, ["bob"])
    decodes(bob, ["alice"])
    three = step(run, "three")
    decodes(three["late"], ["alice", "bob"])
    # The first two got carol by renegotiation, without reconnecting.
    decodes(three["others"][0], ["bob", "carol"])
    decodes(three["others"][1], ["alice", "carol"])


def test_a_taken_name_is_refused_on_the_join_screen(run: Result) -> None:
    taken = step(run, "name_taken")
    assert "'alice'" in taken["error_shown"] and "already" in taken["error_shown"]
    assert taken["join_screen"] is True


def test_chat_over_the_data_channel_arrives_in_order_both_ways(run: Result) -> None:
    received = step(run, "chat")
    said = {name: [f"{name} says {index}" for index in range(10)] for name in ("alice", "bob")}
    assert [(m["from"], m["text"]) for m in received["alice"]] == [("bob", text) for text in said["bob"]]
    assert [(m["from"], m["text"]) for m in received["bob"]] == [("alice", text) for text in said["alice"]]
    # carol gets both in the order each was typed.
    for name in ("alice", "bob"):
        assert [m["text"] for m in received["carol"] if m["from"] == name] == said[name]


def test_a_5_mib_file_sent_in_the_chat_arrives_byte_equal(run: Result) -> None:
    transfer = step(run, "file")
    assert transfer["sent"] == [{"name": "holiday.bin", "size": FILE_BYTES}]
    for name in ("bob", "carol"):
        received = transfer["received"][name]
        assert (received["from"], received["name"], received["size"]) == ("alice", "holiday.bin", FILE_BYTES)
        assert received["sha256"] == run["file_sha256"], name


def test_the_unordered_unreliable_cursor_channel_delivers(run: Result) -> None:
    cursor = step(run, "cursor")
    # On loopback nothing is lost; unordered delivery may still drop none.
    assert cursor["sent"] >= 20
    assert cursor["sent"] * 0.8 <= len(cursor["received"]) <= cursor["sent"], cursor
    assert all(0 <= c["x"] <= 1 and 0 <= c["y"] <= 1 for c in cursor["received"])
    assert cursor["shown"] == 1


def test_a_page_that_opened_no_chat_channel_gets_the_servers(run: Result) -> None:
    found = step(run, "channel_from_server")
    assert "hello dave" in found["received"].split("|")
    assert found["answered"] is True


def test_the_active_speaker_is_highlighted(run: Result) -> None:
    found = step(run, "activespeaker")
    peer_ids = {s for s in found["speakers"] if s is not None}
    assert peer_ids, found
    assert found["highlighted"] == 1
    # The levels that drive the meters: dBov, loudest first ([] when all are silent).
    assert any(found["levels"]), found["levels"]
    for levels in found["levels"]:
        loudness = [entry["dBov"] for entry in levels]
        assert all(-127 <= dbov <= 0 for dbov in loudness) and loudness == sorted(loudness, reverse=True)


def test_muting_silences_what_the_others_hear_and_the_camera_toggles(run: Result) -> None:
    found = step(run, "mute")
    assert found["energy_before"] > 0.01
    assert found["energy_muted"] < found["energy_before"] / 100
    assert found["buttons"] == ["Unmute", "Start camera"]


def test_leaving_returns_to_the_join_screen_and_removes_the_tile(run: Result) -> None:
    found = step(run, "leave")
    assert found["tiles"] == {"alice": ["alice (you)", "bob"], "bob": ["bob (you)", "alice"]}
    assert found["carol_state"] is None  # no call any more


def test_each_remote_tile_shows_its_stats_and_the_screenshot_is_kept(run: Result) -> None:
    overlays = run["overlay"]
    assert len(overlays) == 2
    for overlay in overlays:
        resolution, bitrate, loss, layer = overlay.split("\n")
        # 640×480, or 4:3 smaller where Chromium's encoder adapted to a loaded CPU (480×360 seen in CI).
        size = re.fullmatch(r"(\d+)×(\d+) \d+ fps", resolution)
        assert size is not None and int(size.group(1)) <= 640 and int(size.group(1)) * 3 == int(size.group(2)) * 4, resolution
        assert bitrate.endswith(" kbps") and int(bitrate.split()[0]) > 50
        assert loss.startswith("loss ")
        # The layers the server forwards (a single VP8 stream: spatial layer 0) and the sender's score.
        match = re.fullmatch(r"layer 0/(\d+) · score (\d+)", layer)
        assert match is not None and int(match.group(2)) >= 8, overlay
    assert SCREENSHOT.stat().st_size > 10_000


def test_whip_publisher_is_decoded_by_a_room_page_and_a_whep_page(run: Result) -> None:
    assert run["whip"]["session"].startswith("/session/") and run["whip"]["connectionState"] == "connected"
    decodes(step(run, "whip_in_room"), ["whip-1"])
    whep = step(run, "whep")
    assert whep["session"].startswith("/session/") and len(whep["streams"]) == 1
    assert [s["framesDecoded"] >= 10 for s in decoded(whep, "video")] == [True]
    assert [s["totalSamplesReceived"] > 0 for s in decoded(whep, "audio")] == [True]


def test_the_demo_for_other_devices_serves_https_and_media_on_every_address(run: Result) -> None:
    step(run, "tls_run")
    tls = run.get("tls")
    assert tls is not None, run.get("tls_log")
    # The namespace has only loopback: the announced address falls back to it.
    assert tls["url"].startswith("https://127.0.0.1:"), tls["printed"]
    assert tls["secure"] == ["https:", True]
    decodes(tls["decoded"][0], ["frank"])
    decodes(tls["decoded"][1], ["erin"])


def _app() -> Any:
    return pytest.importorskip("mediasoup.demo.app")


def test_the_self_signed_certificate_is_pem_for_the_names_given() -> None:
    x509 = pytest.importorskip("cryptography.x509")
    app = _app()
    certificate, key = __import__("mediasoup")._mediasoup.self_signed_certificate(["localhost", "192.0.2.10"])
    text = app.pem("CERTIFICATE", certificate)
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and lines[-1] == "-----END CERTIFICATE-----"
    assert all(len(line) <= 64 for line in lines[1:-1]) and all(len(line) == 64 for line in lines[1:-2])
    parsed = x509.load_pem_x509_certificate(text.encode())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.10")]
    assert app.pem("PRIVATE KEY", key).startswith("-----BEGIN PRIVATE KEY-----\n")
    assert isinstance(app.self_signed_context(["localhost"]), ssl.SSLContext)


def test_the_lan_address_is_an_ipv4_address_other_than_loopback() -> None:
    address = _app().lan_address()
    if address is None:
        pytest.skip("this host has no route to a private network")
    assert not ipaddress.IPv4Address(address).is_loopback
