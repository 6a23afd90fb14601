"""A Prometheus exporter for a :class:`~mediasoup.Server` (the extra
``mediasoup[metrics]``: ``prometheus_client``).

    exporter = mediasoup.metrics.Exporter(server)
    app.router.add_get("/metrics", exporter.handle)      # aiohttp
    body, content_type = await exporter.render()         # any web framework

``prometheus_client`` collects synchronously, while the workers' figures
come over their Channels: :meth:`Exporter.refresh` asks every worker
(``server.getMetrics()``, one small request each) and keeps the answers,
and :meth:`Exporter.collect` reports the last ones. :meth:`render` and
:meth:`handle` refresh first, so a scrape sees figures as fresh as itself;
with ``prometheus_client.start_http_server`` (a thread that cannot await),
:meth:`start` refreshes every few seconds instead.

Every series has the label ``worker``: the worker's index, which its
replacement keeps (its counters start again from zero, which Prometheus'
``rate()`` reads as a reset). Names follow Prometheus' conventions: the
``mediasoup_`` prefix, base units in the name, ``_total`` on counters
(docs/server.md, "Metrics", lists them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import InvalidStateError, MediasoupError

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

    from .server import Server

__all__ = ["Exporter", "METRICS"]

_logger = logging.getLogger("mediasoup.metrics")

# (name, type, help, [(key in a worker's metrics, extra labels)]).
METRICS: list[tuple[str, str, str, list[tuple[str, dict[str, str]]]]] = [
    ("mediasoup_worker_up", "gauge", "1 while the worker process runs, 0 once it died (until its replacement starts)", []),
    ("mediasoup_worker_uptime_seconds", "gauge", "Seconds since the worker started", [("uptimeMs", {})]),
    ("mediasoup_worker_cpu_seconds_total", "counter", "CPU time the worker process used",
     [("cpuUserSeconds", {"mode": "user"}), ("cpuSystemSeconds", {"mode": "system"})]),
    ("mediasoup_worker_resident_memory_bytes", "gauge", "Resident memory of the worker process", [("residentMemoryBytes", {})]),
    ("mediasoup_worker_rooms", "gauge", "Open rooms", [("rooms", {})]),
    ("mediasoup_worker_peers", "gauge", "Open peers", [("peers", {})]),
    ("mediasoup_worker_transports", "gauge", "Open transports, by kind",
     [("transports", {"kind": "webrtc"}), ("directTransports", {"kind": "direct"}), ("plainTransports", {"kind": "plain"})]),
    ("mediasoup_worker_rtp_receivers", "gauge", "Streams published (RtpReceivers)", [("rtpReceivers", {})]),
    ("mediasoup_worker_rtp_senders", "gauge", "Streams forwarded to a subscriber (RtpSenders)", [("rtpSenders", {})]),
    ("mediasoup_worker_data_receivers", "gauge", "Data channels received (DataReceivers)", [("dataReceivers", {})]),
    ("mediasoup_worker_data_senders", "gauge", "Data channels sent (DataSenders)", [("dataSenders", {})]),
    ("mediasoup_worker_received_bytes_total", "counter", "Bytes received on the worker's transports (UDP, TCP, media path)", [("bytesReceived", {})]),
    ("mediasoup_worker_received_packets_total", "counter", "Packets received on the worker's transports", [("packetsReceived", {})]),
    ("mediasoup_worker_sent_bytes_total", "counter", "Bytes sent on the worker's transports", [("bytesSent", {})]),
    ("mediasoup_worker_sent_packets_total", "counter", "Packets sent on the worker's transports", [("packetsSent", {})]),
    ("mediasoup_worker_rtp_packets_lost_total", "counter",
     "RTP packets lost: inbound, from publishers (by sequence number); outbound, as subscribers report",
     [("inboundPacketsLost", {"direction": "inbound"}), ("outboundPacketsLost", {"direction": "outbound"})]),
    ("mediasoup_worker_nacks_total", "counter", "RTCP NACKs: sent to publishers, received from subscribers",
     [("nacksSent", {"direction": "sent"}), ("nacksReceived", {"direction": "received"})]),
    ("mediasoup_worker_plis_total", "counter", "RTCP picture loss indications: sent to publishers, received from subscribers",
     [("plisSent", {"direction": "sent"}), ("plisReceived", {"direction": "received"})]),
    ("mediasoup_worker_firs_total", "counter", "RTCP full intra requests: sent to publishers, received from subscribers",
     [("firsSent", {"direction": "sent"}), ("firsReceived", {"direction": "received"})]),
    ("mediasoup_worker_unrouted_datagrams_total", "counter",
     "Datagrams and TCP frames that reached a shared port (rtcPortPerWorker, a plain transport's sharedPort) for no transport",
     [("datagramsUnrouted", {})]),
    ("mediasoup_worker_bitrate_bits_per_second", "gauge",
     "RTP payload bitrate over the last second: incoming from publishers, outgoing to subscribers",
     [("incomingBitrate", {"direction": "incoming"}), ("outgoingBitrate", {"direction": "outgoing"})]),
]

_SCALE = {"uptimeMs": 0.001}


class Exporter:
    """A Prometheus collector of `server`'s workers, registered in
    `registry` (by default ``prometheus_client.REGISTRY``, beside the
    process and platform collectors there)."""

    def __init__(self, server: Server, registry: CollectorRegistry | None = None) -> None:
        try:
            import prometheus_client
        except ImportError:
            raise ImportError("mediasoup.metrics needs prometheus_client: pip install 'mediasoup[metrics]'") from None
        self._server = server
        self._workers: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._registry: CollectorRegistry | None = prometheus_client.REGISTRY if registry is None else registry
        self._registry.register(self)

    async def refresh(self) -> None:
        """Asks every worker for its metrics; keeps the answers for :meth:`collect`.
        A closed server has none."""
        if self._server.closed:
            self._workers = {}
            return
        self._workers = await self._server.getMetrics()

    def collect(self) -> Iterator[Metric]:
        """The last figures, in prometheus_client's form (the Collector protocol)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self._server.closed:
            self._workers = {}  # a closed server has none, whoever refreshed last
        workers = sorted(self._workers.values(), key=lambda worker: int(worker["index"]))
        for name, kind, help_text, sources in METRICS:
            extra = sorted({label for _, labels in sources for label in labels})
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(name, help_text, labels=["worker", *extra])
            for worker in workers:
                index = str(worker["index"])
                if name == "mediasoup_worker_up":
                    family.add_metric([index], 0.0 if worker.get("closed") else 1.0)
                    continue
                for key, labels in sources:
                    value = worker.get(key)
                    if value is not None:
                        family.add_metric([index, *(labels[label] for label in extra)], float(value) * _SCALE.get(key, 1.0))
            yield family

    async def render(self) -> tuple[bytes, str]:
        """Refreshes, then renders the registry in the text exposition
        format: ``(body, content_type)``."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if self._registry is None:
            raise InvalidStateError("the exporter is closed")
        await self.refresh()
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """An aiohttp handler for ``GET /metrics``: answers 503 while the workers cannot answer."""
        from aiohttp import web

        try:
            body, content_type = await self.render()
        except MediasoupError as error:
            return web.Response(status=503, text=f"mediasoup metrics unavailable: {error}\n")
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    def start(self, interval: float = 5.0) -> None:
        """Refreshes every `interval` seconds in a task of the running loop,
        for a server that collects without awaiting
        (``prometheus_client.start_http_server``). Stops with the server or :meth:`stop`."""
        if not interval > 0:
            raise ValueError(f"interval must be > 0 seconds, not {interval!r:.80}")
        self.stop()
        self._task = asyncio.get_running_loop().create_task(self._refresh_every(interval))

    def stop(self) -> None:
        """Stops :meth:`start`'s refreshing."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def close(self) -> None:
        """Stops refreshing and leaves the registry."""
        self.stop()
        if self._registry is not None:
            try:
                self._registry.unregister(self)
            except KeyError:
                pass
            self._registry = None

    async def _refresh_every(self, interval: float) -> None:
        while not self._server.closed:
            try:
                await self.refresh()
            except MediasoupError as error:
                _logger.warning("metrics: a worker did not answer: %s", error)
            await asyncio.sleep(interval)
