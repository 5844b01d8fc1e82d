"""The history table: day partitions (ahead of time, on demand, retention) and the batch insert with COPY.

``telemetry_reading`` is range-partitioned by device day (UTC). Partitions are created ahead by a beat task
(``TELEMETRY_PARTITIONS_AHEAD_DAYS``) and on demand before a batch that needs one, each in a short transaction
of its own: CREATE ... PARTITION OF locks the parent, which must not be held for a whole batch. There is no
default partition, so creating one never has to scan rows.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "telemetry_reading"
_NAME = re.compile(r"^telemetry_reading_p(\d{8})$")
COLUMNS = ("vehicle_id", "seq", "at", "received_at", "lat", "lon", "accuracy_m", "heading", "speed_kph",
           "battery_pct", "locked", "odometer_m", "alarms", "ack_id", "ack_ok")
_COLUMN_LIST = ", ".join(COLUMNS)
# Binary COPY: psycopg's C dumpers write these rows much faster than the text format's Python adaptation.
COPY_TYPES = ("uuid", "int8", "timestamptz", "timestamptz", "float8", "float8", "float4", "float4", "float4", "int2",
              "bool", "int8", "varchar[]", "uuid", "bool")
# Identifiers below come from these constants and from dates, never from input.
_STAGE_SQL = f"CREATE TEMP TABLE IF NOT EXISTS telemetry_batch (LIKE {TABLE}) ON COMMIT DELETE ROWS"
_COPY_SQL = f"COPY telemetry_batch ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
# Returns the rows NOT inserted (already stored): usually none, so nothing is sent back and parsed.
_MOVE_SQL = (f"WITH stored AS (INSERT INTO {TABLE} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM telemetry_batch "  # noqa: S608
             "ON CONFLICT DO NOTHING RETURNING vehicle_id, seq, at) "
             "SELECT b.vehicle_id, b.seq FROM telemetry_batch AS b LEFT JOIN stored AS s "
             "ON s.vehicle_id = b.vehicle_id AND s.seq = b.seq AND s.at = b.at WHERE s.seq IS NULL")
_known: set[date] = set()  # partitions this process knows exist (dropped ones are older than any accepted ts)

Row = tuple[Any, ...]  # values in COLUMNS order


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def partitions() -> list[date]:
    """Days that have a partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass", [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := _NAME.match(n)))


def ensure_partitions(days: Iterable[date]) -> list[date]:
    """Create the missing day partitions (idempotent, safe between concurrent workers); returns those created."""
    missing = sorted(set(days) - _known)
    if not missing:
        return []
    existing = set(partitions())
    created = []
    for day in missing:
        if day not in existing:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} "
                        "FOR VALUES FROM (%s) TO (%s)",  # UTC days, whatever the session's time zone
                        [f"{day.isoformat()} 00:00+00", f"{day + timedelta(days=1)} 00:00+00"],
                    )
                created.append(day)
            except DatabaseError:
                # Another worker created it between our check and our CREATE (pg_class unique violation).
                if day not in set(partitions()):
                    raise
        _known.add(day)
    if created:
        logger.info("telemetry: created history partitions %s", ", ".join(map(str, created)))
    return created


def ensure_ahead(*, today: date | None = None, ahead_days: int) -> list[date]:
    today = today or datetime.now(UTC).date()
    return ensure_partitions(today + timedelta(days=i) for i in range(-1, ahead_days + 1))


def drop_older_than(*, days: int, today: date | None = None, dry_run: bool = False) -> list[date]:
    """Drop the partitions whose whole day is more than ``days`` days ago; returns the days dropped."""
    cutoff = (today or datetime.now(UTC).date()) - timedelta(days=days)
    old = [day for day in partitions() if day < cutoff]
    if not dry_run:
        for day in old:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {partition_name(day)}")
            _known.discard(day)
    return old


def insert_skipping_duplicates(rows: Sequence[Row]) -> set[tuple[uuid.UUID, int]]:
    """COPY ``rows`` into the history, skipping (vehicle, seq, at) already stored; returns the keys of the rows
    skipped (duplicates).

    COPY cannot skip conflicts, so rows go into a per-session temporary table first (emptied at commit), then
    one INSERT ... SELECT ... ON CONFLICT DO NOTHING moves them. Rows left from an earlier batch of the same
    transaction (nested in a test's transaction) conflict and come back among the skipped keys, which only
    matters for keys of the current batch. Caller must be inside a transaction.
    """
    if not rows:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_SQL)
        raw = cursor.cursor  # psycopg 3 cursor: Django's wrapper has no copy()
        with raw.copy(_COPY_SQL) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(_MOVE_SQL)
        return {(row[0], row[1]) for row in cursor.fetchall()}
