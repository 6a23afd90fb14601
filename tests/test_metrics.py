"""Metrics a deployment scrapes: ``server.getMetrics()`` and the Prometheus
exporter (``mediasoup.metrics``), read through the example app's
``/metrics`` during a real call (an aiortc WHIP publisher, a WHEP viewer)
and parsed with prometheus_client's own parser."""

from __future__ import annotations

import os
from typing import Any

import pytest

import mediasoup

from .clients import Viewer, offer_sdp, until, use_loopback_only

prometheus_client = pytest.importorskip("prometheus_client")
app_module = pytest.importorskip("mediasoup.demo.app")

COUNTS = ["rooms", "peers", "transports", "directTransports", "plainTransports", "rtpReceivers", "rtpSenders", "dataReceivers", "dataSenders"]
TOTALS = ["bytesReceived", "packetsReceived", "bytesSent", "packetsSent", "inboundPacketsLost", "outboundPacketsLost",
          "nacksSent", "nacksReceived", "plisSent", "plisReceived", "firsSent", "firsReceived", "datagramsUnrouted"]


@pytest.fixture
def options() -> dict[str, Any]:
    """Two workers: every series is per worker."""
    return {"numWorkers": 2, "logLevel": "warn", "rtcListenIPv4": "127.0.0.1", "rtcListenIPv6": False}


async def scrape(http: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of /metrics: every sample by (name, sorted labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await http.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted({"worker": "0", **labels}.items())))]


async def test_an_idle_server_reports_its_workers(server: mediasoup.Server) -> None:
    metrics = await server.getMetrics()
    assert len(metrics) == 2
    for worker_id, worker in metrics.items():
        assert worker["closed"] is False and worker["pid"] in [channel.pid for channel in server._channels]
        assert all(worker[name] == 0 for name in COUNTS + TOTALS), worker
        assert worker["cpuUserSeconds"] >= 0 and worker["cpuSystemSeconds"] >= 0
        # A worker process is some MiB of resident memory, read from /proc.
        assert 1 << 20 < worker["residentMemoryBytes"] < 1 << 31
    assert sorted(worker["index"] for worker in metrics.values()) == [0, 1]
    room = await server.Room()
    await room.Peer("alice")
    counts = [worker["rooms"] + 10 * worker["peers"] for worker in (await server.getMetrics()).values()]
    assert sorted(counts) == [0, 11]
    server.close()
    with pytest.raises(mediasoup.errors.InvalidStateError):
        await server.getMetrics()


async def test_a_scrape_of_the_app_during_a_call_shows_counters_that_move(http: Any, server: mediasoup.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    use_loopback_only(monkeypatch)
    idle = await scrape(http)
    assert sample(idle, "mediasoup_worker_up") == 1.0
    assert sample(idle, "mediasoup_worker_received_bytes_total") == 0
    assert sample(idle, "mediasoup_worker_unrouted_datagrams_total") == 0
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = Viewer()
    try:
        publisher.addTrack(AudioStreamTrack())
        publisher.addTrack(VideoStreamTrack())
        response = await http.post("/whip/live", data=await offer_sdp(publisher), headers={"Content-Type": "application/sdp"})
        assert response.status == 201, await response.text()
        await publisher.setRemoteDescription(RTCSessionDescription(sdp=await response.text(), type="answer"))
        response = await http.post("/whep/live", data=await offer_sdp(viewer.pc), headers={"Content-Type": "application/sdp"})
        assert response.status == 201, await response.text()
        viewer_session = response.headers["Location"]
        await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=await response.text(), type="answer"))
        await until(lambda: viewer.decoded(audio=50, video=20), 20, lambda: viewer.frames)

        # The room lives on one worker of the two: its series carry its index.
        (room,) = http.app[app_module.DEMO].rooms.values()
        worker = str(room._channel.index)

        def at(samples: dict[Any, float], name: str, **labels: str) -> float:
            return sample(samples, name, worker=worker, **labels)

        first = await scrape(http)
        assert at(first, "mediasoup_worker_rooms") == 1 and at(first, "mediasoup_worker_peers") == 2
        assert at(first, "mediasoup_worker_transports", kind="webrtc") == 2
        assert at(first, "mediasoup_worker_rtp_receivers") == 2 and at(first, "mediasoup_worker_rtp_senders") == 2
        assert at(first, "mediasoup_worker_bitrate_bits_per_second", direction="incoming") > 10_000
        assert at(first, "mediasoup_worker_bitrate_bits_per_second", direction="outgoing") > 10_000
        assert at(first, "mediasoup_worker_resident_memory_bytes") > 1 << 20
        await until(lambda: viewer.decoded(audio=150, video=60), 20, lambda: viewer.frames)
        second = await scrape(http)
        for name in ["received_bytes", "received_packets", "sent_bytes", "sent_packets"]:
            assert at(second, f"mediasoup_worker_{name}_total") > at(first, f"mediasoup_worker_{name}_total") > 0, name
        cpu = [at(scraped, "mediasoup_worker_cpu_seconds_total", mode="user") + at(scraped, "mediasoup_worker_cpu_seconds_total", mode="system") for scraped in (first, second)]
        assert cpu[1] > cpu[0] > 0
        assert at(second, "mediasoup_worker_uptime_seconds") > at(first, "mediasoup_worker_uptime_seconds")

        # The viewer leaves: its objects go, the totals stay.
        assert (await http.delete(viewer_session)).status == 200
        third = await scrape(http)
        assert at(third, "mediasoup_worker_peers") == 1 and at(third, "mediasoup_worker_rtp_senders") == 0
        assert at(third, "mediasoup_worker_sent_packets_total") >= at(second, "mediasoup_worker_sent_packets_total")
    finally:
        await publisher.close()
        await viewer.close()


async def test_the_exporter_in_a_registry_of_one_s_own(server: mediasoup.Server) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from mediasoup.metrics import METRICS, Exporter

    registry = CollectorRegistry()
    exporter = Exporter(server, registry)
    with pytest.raises(ValueError, match="interval"):
        exporter.start(interval=0)
    body, content_type = await exporter.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    # Every family is described, with its type, and named by the conventions.
    for name, kind, _, _ in METRICS:
        assert f"# TYPE {name} {kind}" in text, name
        assert name.startswith("mediasoup_worker_")
        assert name.endswith("_total") == (kind == "counter")
    assert text.count('mediasoup_worker_up{worker="') == 2
    # Refreshing on its own, for prometheus_client's threaded HTTP server.
    exporter.start(interval=0.05)
    room = await server.Room()
    await room.Peer("bob")
    await until(lambda: b'mediasoup_worker_peers{worker="' in generate_latest(registry) and sum(
        value for (name, _), value in _samples(registry).items() if name == "mediasoup_worker_peers") == 1, 5, lambda: generate_latest(registry))
    # A worker that dies is replaced under the same index: its series start again.
    worker = str(room._channel.index)
    uptime = _samples(registry)[("mediasoup_worker_uptime_seconds", (("worker", worker),))]
    os.kill(room._channel.pid, 9)
    await until(lambda: _samples(registry).get(("mediasoup_worker_uptime_seconds", (("worker", worker),)), uptime) < uptime, 10, lambda: generate_latest(registry))
    after = _samples(registry)
    assert after[("mediasoup_worker_up", (("worker", worker),))] == 1
    assert after[("mediasoup_worker_peers", (("worker", worker),))] == 0
    exporter.close()
    assert b"mediasoup_worker" not in generate_latest(registry)
    server.close()
    with pytest.raises(mediasoup.errors.InvalidStateError):
        await exporter.render()


def _samples(registry: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client import generate_latest

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
