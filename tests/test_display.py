"""Jupyter and IPython: the rich reprs of the objects, and dumps and stats
that are plain dicts and lists shown as tables (mediasoup/_display.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import mediasoup
from mediasoup import _display
from mediasoup.webrtc import RTCPeerConnection

from .clients import until, use_loopback_only

GREEN, AMBER, RED = "#1a7f37", "#b35900", "#cf222e"
HOSTILE = '<script>alert("x")</script>'


def coloured(state: str, colour: str) -> str:
    return f'<span style="color:{colour};font-weight:600">{state}</span>'


def short(object_id: str) -> str:
    """How the HTML shows an id: its first 8 characters, the whole in a tooltip."""
    return f'<code title="{object_id}">{object_id[:8]}…</code>'


@asynccontextmanager
async def call(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch, publisher: str = "alice") -> AsyncIterator[tuple[mediasoup.Room, RTCPeerConnection, RTCPeerConnection]]:
    """A room where aiortc `publisher` sends audio and video and aiortc bob
    receives them, each through an SDP endpoint of its peer."""
    from aiortc import RTCConfiguration
    from aiortc import RTCPeerConnection as AiortcPeerConnection
    from aiortc import RTCSessionDescription as AiortcDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    room = await server.Room()
    sending, receiving = (AiortcPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2))
    alice, bob = RTCPeerConnection(await room.Peer(publisher)), RTCPeerConnection(await room.Peer("bob"))
    sending.addTrack(AudioStreamTrack())
    sending.addTrack(VideoStreamTrack())
    receiving.addTransceiver("audio", direction="recvonly")
    receiving.addTransceiver("video", direction="recvonly")
    try:
        for client, pc in ((sending, alice), (receiving, bob)):
            await client.setLocalDescription(await client.createOffer())
            await pc.setRemoteDescription({"type": "offer", "sdp": client.localDescription.sdp})
            await pc.setLocalDescription()
            assert pc.localDescription is not None
            await client.setRemoteDescription(AiortcDescription(sdp=pc.localDescription.sdp, type="answer"))
        senders = bob.peer.rtpSenders
        await until(lambda: all(s.active for s in senders) and len(senders) == 2 and bob.connectionState == "connected", 10, lambda: senders)
        yield room, alice, bob
    finally:
        await sending.close()
        await receiving.close()
        alice.close()
        bob.close()


async def test_objects_show_short_ids_coloured_states_and_counts(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    async with call(server, monkeypatch) as (room, alice, bob):
        direct = await bob.peer.createDirectTransport()
        transport = alice.transport
        assert transport is not None
        receiver = alice.peer.rtpReceivers[1]
        sender = bob.peer.rtpSenders[1]
        views = {obj: obj._repr_html_() for obj in (server, room, alice.peer, transport, direct, receiver, sender)}
        for obj, view in views.items():
            assert view.startswith('<table class="mediasoup-object"'), obj
            assert f"{type(obj).__name__} {short(obj.id)}" in view
            # The full id only in tooltips.
            assert view.count(obj.id) == view.count(f'title="{obj.id}"')
        assert coloured("open", GREEN) in views[server] and "<th " in views[server]
        assert re.search(r"rooms</th><td [^>]*>1</td>", views[server])
        assert "rooms (1)" in views[server] and short(room.id) in views[server]
        assert re.search(r"peers</th><td [^>]*>2</td>", views[room]) and "peers (2)" in views[room]
        assert short(alice.peer.id) in views[room] and short(bob.peer.id) in views[room]
        assert re.search(r"rtpReceivers</th><td [^>]*>2</td>", views[alice.peer]) and "rtpReceivers (2)" in views[alice.peer]
        assert coloured("connected", GREEN) in views[transport] and coloured("completed", GREEN) in views[transport]
        assert "127.0.0.1:" in views[transport]
        assert coloured("receiving", GREEN) in views[receiver] and "video/VP8" in views[receiver]
        assert coloured("active", GREEN) in views[sender] and short(receiver.id) in views[sender]
        assert re.search(r"streams</th><td [^>]*>0</td>", views[direct])
        # A sender paused: amber; before receive(): amber 'new'.
        await sender.disable()
        assert coloured("paused", AMBER) in sender._repr_html_()
        pending = alice.peer.RtpReceiver("audio", transport)
        assert coloured("new", AMBER) in pending._repr_html_()
    # Closed: red, and a transport's states too.
    assert coloured("closed", RED) in transport._repr_html_()
    assert transport._repr_html_().count(coloured("closed", RED)) == 3
    room.close()
    assert coloured("closed", RED) in room._repr_html_()


async def test_remote_names_come_out_escaped(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    async with call(server, monkeypatch, publisher=HOSTILE) as (room, alice, bob):
        assert alice.transport is not None
        views = [
            room._repr_html_(),
            alice.peer._repr_html_(),
            alice.transport._repr_html_(),
            alice.peer.rtpReceivers[0]._repr_html_(),
            bob.peer.rtpSenders[0]._repr_html_(),
            (await room.dump())._repr_html_(),
            (await alice.peer.dump())._repr_html_(),
            mediasoup.Dump(appData={"note": HOSTILE, HOSTILE: [HOSTILE]})._repr_html_(),
            mediasoup.Stats([{"type": HOSTILE, "label": HOSTILE, HOSTILE: 1}])._repr_html_(),
        ]
        for view in views:
            assert "<script>" not in view
            assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in view


async def test_dumps_and_stats_are_plain_dicts_and_lists(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    async with call(server, monkeypatch) as (room, alice, bob):
        assert alice.transport is not None and bob.transport is not None
        dumps = [
            await server.dump(),
            await room.dump(),
            await alice.peer.dump(),
            await alice.transport.dump(),
            await alice.peer.rtpReceivers[0].dump(),
            await bob.peer.rtpSenders[0].dump(),
            await (await bob.peer.createDirectTransport()).dump(),
        ]
        for dump in dumps:
            assert type(dump) is mediasoup.Dump and isinstance(dump, dict)
            plain = json.loads(json.dumps(dump))
            assert dump == plain and plain == dump
            assert "id" in dump and dump["id"] == plain["id"]
            assert repr(dump) == repr(dict(dump))
            assert dump._repr_html_().startswith('<table class="mediasoup-dump"')
        room_dump = dumps[1]
        assert sorted(room_dump["peers"]) == ["alice", "bob"]
        view = room_dump._repr_html_()
        assert short(alice.peer.id) in view and "peers" in view
        assert coloured("connected", GREEN) in dumps[3]._repr_html_()
        receiver = next(r for r in alice.peer.rtpReceivers if r.kind == "video")
        all_stats = [
            await alice.transport.getStats(),
            await bob.transport.getStats(),
            await receiver.getStats(),
            await bob.peer.rtpSenders[1].getStats(),
        ]
        for stats in all_stats:
            assert type(stats) is mediasoup.Stats and isinstance(stats, list)
            plain = json.loads(json.dumps(stats))
            assert stats == plain and stats[0] == plain[0] and stats[0]["type"] == plain[0]["type"]
            assert stats._repr_html_().startswith('<table class="mediasoup-stats"')
        inbound = all_stats[2]._repr_html_()
        assert "<b>inbound-rtp</b>" in inbound and str(all_stats[2][0]["ssrc"]) in inbound
        assert "bit/s" in inbound and re.search(r">\d+(\.\d)? kB<|>\d+ B<", inbound)
        for heading in ("packets in", "lost", "NACK", "PLI", "bitrate"):
            assert f">{heading}</th>" in inbound
        assert coloured("connected", GREEN) in all_stats[0]._repr_html_()
        assert mediasoup.Stats() == [] and "no stats yet" in mediasoup.Stats()._repr_html_()


def test_numbers_are_formatted_for_a_reader() -> None:
    assert _display.format_bytes(850) == "850 B"
    assert _display.format_bytes(1_234_567) == "1.2 MB"
    assert _display.format_bitrate(850_000) == "850 kbit/s"
    assert _display.format_bitrate(1_234_567) == "1.2 Mbit/s"
    stats = mediasoup.Stats([{"type": "outbound-rtp", "ssrc": 1234567890, "packetsSent": 12345, "bytesSent": 1_234_567, "bitrate": 850_000, "roundTripTime": 0.0123, "fractionLost": 0.05}])
    view = stats._repr_html_()
    for shown in (">1234567890<", ">12,345<", ">1.2 MB<", ">850 kbit/s<", ">12.3 ms<", ">5.0 %<"):
        assert shown in view


async def test_a_big_room_and_a_big_dump_are_shown_bounded(server: mediasoup.Server) -> None:
    room = await server.Room()
    for index in range(_display.MAX_ROWS + 25):
        room.Peer(f"peer{index}")
    view = room._repr_html_()
    assert f"peers ({_display.MAX_ROWS + 25})" in view and "… and 25 more" in view
    assert view.count('<code title="') == _display.MAX_ROWS + 1
    # A dump of 5,000 peers, each with nested capabilities.
    capabilities = {"codecs": [{"mimeType": "video/VP8", "clockRate": 90000, "parameters": {"x": i}} for i in range(10)]}
    peers = {f"peer{index}": {"id": f"{index:08x}-0000-0000-0000-000000000000", "capabilities": capabilities, "transportIds": ["a"] * 8} for index in range(5000)}
    dump = mediasoup.Dump(id="room", peers=peers, rtpReceivers={str(index): [] for index in range(5000)})
    view = dump._repr_html_()
    assert len(view) < 300_000
    assert f"… and {5000 - _display.MAX_ROWS:,} more" in view
    assert "a, a, a, a, a, … and 3 more" in view
    text = _pretty(dump)
    assert len(text.splitlines()) < _display.MAX_LINES + 50 and f"… and {5000 - _display.MAX_ROWS:,} more" in text
    stats = mediasoup.Stats([{"type": "outbound-rtp", "ssrc": index} for index in range(500)])
    assert f"… and {500 - _display.MAX_STATS_ROWS} more" in stats._repr_html_() and len(stats._repr_html_()) < 50_000


def _pretty(value: Any) -> str:
    from IPython.lib.pretty import pretty

    text: str = pretty(value)
    return text


async def test_ipython_pretty_prints_the_state_on_lines_of_its_own(server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("IPython")
    async with call(server, monkeypatch) as (room, alice, bob):
        assert alice.transport is not None
        text = _pretty(room)
        assert text.startswith(f"<Room {room.id} open\n") and text.endswith(">")
        assert "\n  peers: 2\n" in text and f"Peer {alice.peer.id[:8]}… open name=alice" in text
        transport = _pretty(alice.transport)
        assert "\n  ice: completed\n" in transport and "\n  dtls: connected\n" in transport
        assert "\n  kind: video\n" in _pretty(bob.peer.rtpSenders[1])
        assert f"\n  rooms: 1\n" in _pretty(server)
        dump = _pretty(await alice.transport.dump())
        assert "\ndtlsState: connected\n" in dump and "\n  - foundation: udpcandidate\n" in dump
        stats = _pretty(await bob.peer.rtpSenders[1].getStats())
        assert stats.splitlines()[0].split()[:3] == ["type", "kind", "ssrc"] and "outbound-rtp" in stats
        # Within a cycle IPython asks for the one-line repr.
        printed: list[str] = []
        room._repr_pretty_(type("Printer", (), {"text": lambda self, text: printed.append(text)})(), True)
        assert printed == [repr(room)]
