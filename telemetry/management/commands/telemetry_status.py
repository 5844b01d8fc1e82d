"""``manage.py telemetry_status [--json] [--drain]``: the pipeline's backlog, rates, rejections and latency."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Show the telemetry pipeline's streams, consumer lag, batches, rates, rejected messages and latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object instead of text (default: text)")
        parser.add_argument("--drain", action="store_true",
                            help="First apply everything queued, in this process (development; workers do it)")

    def handle(self, *args: Any, **options: Any) -> None:
        from telemetry import pipeline, status  # here: the parser (--help) loads without the app registry

        if options["drain"]:
            self.stderr.write(f"applied {pipeline.drain_until_empty(consumer='telemetry_status')} messages")
        snap = status.snapshot()
        if options["json"]:
            self.stdout.write(json.dumps(snap, sort_keys=True))
            return
        out = self.stdout.write
        out(f"backlog {snap['backlog']} entries ({snap['pending']} pending in workers), "
            f"dead letters {snap['dead_letters']}")
        out("shard  length  pending  lag")
        for row in snap["shards"]:
            out(f"{row['shard']:>5}  {row['length']:>6}  {row['pending']:>7}  {row['lag']:>3}")
        s = snap["stats"]
        out(f"batches {s['batches']}, messages {s['messages']} (new {s['new']}, duplicates {s['duplicates']}, "
            f"late {s['late']}), reclaimed {s['reclaimed']}")
        out(f"batch size avg {snap['avg_batch_size']}, last {snap['last_batch_size']}; "
            f"avg batch time {snap['avg_batch_ms']} ms")
        out(f"processing rate (last minute) {snap['rate_per_s_last_minute']} msg/s")
        out(f"latency accepted->committed p50 {snap['latency_ms_p50']} ms, p99 {snap['latency_ms_p99']} ms")
        rejected = ", ".join(f"{code} {n}" for code, n in sorted(snap["rejected"].items())) or "none"
        out(f"rejected: {rejected}")
