"""``bench telemetry``'s limit: the history's real write path (batches of TELEMETRY_BATCH_SIZE into the logged,
partitioned ``telemetry_reading``), not one COPY into a temporary table."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import telemetry as telemetry_bench
from telemetry import storage


def _history_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        return int(cursor.fetchone()[0])


@pytest.fixture
def committed_history(transactional_db: Any) -> Iterator[None]:
    """Real commits: the staging table empties only at COMMIT, as in a drainer (inside a test's transaction every
    batch after the first would find the earlier ones' rows there). The partitions created are dropped after:
    the flush empties tables but keeps them, and other tests expect none."""
    before = set(storage.partitions())
    yield
    with connection.cursor() as cursor:
        for day in set(storage.partitions()) - before:
            cursor.execute(f"DROP TABLE {storage.partition_name(day)}")


@pytest.mark.usefixtures("committed_history")
def test_the_baseline_writes_the_history_in_the_pipeline_s_batches_and_leaves_it_empty(settings: Any) -> None:
    settings.TELEMETRY_BATCH_SIZE = 70
    fleet = telemetry_bench._rows_only_fleet(20, np.random.default_rng(1))

    with CaptureQueriesContext(connection) as queries:
        figures = telemetry_bench._copy_phase(fleet)

    rows = 20 * telemetry_bench.FIXES
    assert figures["copy_rows"] == rows and figures["copy_batch"] == 70
    assert figures["history_copy_rows_per_s"] > 0 and figures["direct_copy_rows_per_s"] > 0
    assert figures["temp_copy_rows_per_s"] > 0
    sql = [q["sql"] for q in queries.captured_queries]
    # One staged INSERT ... ON CONFLICT into the history per batch, as storage.insert_skipping_duplicates does it.
    moves = [s for s in sql if s.startswith("WITH stored AS (INSERT INTO telemetry_reading")]
    assert len(moves) == math.ceil(rows / 70)
    assert any(s.startswith("TRUNCATE telemetry_reading") for s in sql)
    assert _history_rows() == 0  # the end-to-end phase starts from an empty history
