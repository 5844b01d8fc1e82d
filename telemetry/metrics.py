"""Prometheus collector of the pipeline, read from Redis at scrape time (every process sees the same figures)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry import status, streams

logger = logging.getLogger(__name__)


class TelemetryCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            snap = status.snapshot()
        except redis.RedisError:
            logger.warning("telemetry metrics: Redis unreachable")
            return
        length = GaugeMetricFamily("freewheel_telemetry_stream_length", "Entries in the shard stream", labels=["shard"])
        pending = GaugeMetricFamily("freewheel_telemetry_stream_pending",
                                    "Entries read by a worker, not yet acknowledged", labels=["shard"])
        lag = GaugeMetricFamily("freewheel_telemetry_consumer_lag", "Entries not yet read by any worker",
                                labels=["shard"])
        for row in snap["shards"]:
            length.add_metric([str(row["shard"])], row["length"])
            pending.add_metric([str(row["shard"])], row["pending"])
            lag.add_metric([str(row["shard"])], row["lag"])
        yield from (length, pending, lag)
        for name, help_text in (("accepted", "Messages the edges accepted"), ("batches", "Batches committed"), ("messages", "Messages in committed batches"),
                                ("new", "New readings stored"), ("duplicates", "Replayed messages dropped"),
                                ("late", "Readings older than the vehicle's position"),
                                ("reclaimed", "Entries taken over from a crashed worker"),
                                ("dead", "Entries moved to the dead-letter stream")):
            yield CounterMetricFamily(f"freewheel_telemetry_{name}", help_text, value=snap["stats"][name])
        yield CounterMetricFamily("freewheel_telemetry_batch_seconds", "Time spent applying batches",
                                  value=snap["batch_seconds_total"])
        yield GaugeMetricFamily("freewheel_telemetry_last_batch_size", "Messages in the last batch",
                                value=snap["last_batch_size"])
        yield GaugeMetricFamily("freewheel_telemetry_processing_rate", "Messages applied per second, last minute",
                                value=snap["rate_per_s_last_minute"])
        rejected = CounterMetricFamily("freewheel_telemetry_rejected", "Messages refused by the edges",
                                       labels=["code"])
        for code, count in sorted(snap["rejected"].items()):
            rejected.add_metric([code], count)
        yield rejected
        buckets, cumulative = [], 0
        for bound in streams.LATENCY_BUCKETS_MS:
            cumulative += snap["latency_ms_buckets"].get(str(bound), 0)
            buckets.append((str(bound / 1000), cumulative))
        cumulative += snap["latency_ms_buckets"].get("inf", 0)
        buckets.append(("+Inf", cumulative))
        yield HistogramMetricFamily("freewheel_telemetry_latency_seconds",
                                    "Accepted by an edge -> batch committed", buckets=buckets, sum_value=None)
