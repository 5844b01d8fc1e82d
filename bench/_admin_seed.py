"""The city-scale data set of ``python -m bench admin``, written in SQL after ``migrate`` built the schema.

Counts at ``scale`` 1 (``BENCH_ADMIN_SCALE`` scales them all): 100k vehicles in seven cities (Berlin, the map's
city, has 10k), 200k riders, 10M vehicle events over 90 days, 1M rides (open ones on the vehicles that are on a
trip), 5M ledger entries (a top-up and a ride charge per ride, balanced), 50M telemetry readings over the last
7 days (one partition per UTC day), 1M commands, 50k ops alerts and tasks. Rows are made by ``INSERT ... SELECT
generate_series`` from numbered temporary tables of the ids, so every foreign key points at a real row.

Speed on a shared 2-core machine: the session runs with ``session_replication_role = replica`` (no foreign-key
or trigger checks per row: the data are consistent by construction, and the ledger's balanced-transaction
trigger would run once per entry), the secondary indexes of the big tables are dropped before their load and
rebuilt after (one sort instead of millions of random inserts), and telemetry day partitions are loaded as plain
tables, then attached (which builds their indexes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

# slug, name, time zone, centre, share of the fleet (Berlin, the map's city, is 10 %: 10k vehicles at scale 1)
CITIES = [
    ("paris", "Paris", "Europe/Paris", 48.857, 2.352, 0.30),
    ("madrid", "Madrid", "Europe/Madrid", 40.417, -3.704, 0.20),
    ("rome", "Rome", "Europe/Rome", 41.903, 12.496, 0.15),
    ("berlin", "Berlin", "Europe/Berlin", 52.520, 13.405, 0.10),
    ("vienna", "Vienna", "Europe/Vienna", 48.208, 16.373, 0.10),
    ("warsaw", "Warsaw", "Europe/Warsaw", 52.230, 21.012, 0.08),
    ("lisbon", "Lisbon", "Europe/Lisbon", 38.722, -9.139, 0.07),
]
MAP_CITY = "berlin"
TYPES = [("scooter", "Scooter", "scooter_standing", "electric"), ("ebike", "E-bike", "bicycle", "electric_assist"),
         ("moped", "Moped", "moped", "electric")]
# Fleet status mix (cumulative thresholds over random()); on_trip and reserved get a trip_id and an open ride.
STATUSES = [("available", 0.70), ("on_trip", 0.76), ("reserved", 0.77), ("low_battery", 0.84),
            ("maintenance", 0.88), ("in_workshop", 0.91), ("charging", 0.93), ("non_contactable", 0.96),
            ("missing", 0.97), ("off_hours", 0.99), ("retired", 1.01)]
HISTORY_DAYS = 90
TELEMETRY_DAYS = 7


@dataclass(frozen=True)
class Counts:
    vehicles: int
    riders: int
    events: int
    rides: int
    ledger_entries: int
    telemetry: int
    commands: int
    alerts: int
    tasks: int

    @classmethod
    def at(cls, scale: float) -> Counts:
        def n(full: int) -> int:
            return max(len(CITIES) * 2, round(full * scale))

        return cls(vehicles=n(100_000), riders=n(200_000), events=n(10_000_000), rides=n(1_000_000),
                   ledger_entries=n(5_000_000), telemetry=n(50_000_000), commands=n(1_000_000),
                   alerts=n(50_000), tasks=n(50_000))


def city_bounds(vehicles: int) -> list[int]:
    """Vehicle number bounds of the cities: city k has the numbers (bounds[k], bounds[k + 1]]."""
    bounds, acc = [0], 0.0
    for *_, share in CITIES:
        acc += share
        bounds.append(min(vehicles, round(acc * vehicles)))
    bounds[-1] = vehicles
    return bounds


def city_vehicles(vehicles: int, slug: str) -> int:
    k = [c[0] for c in CITIES].index(slug)
    bounds = city_bounds(vehicles)
    return bounds[k + 1] - bounds[k]


def _status_case(column: str) -> str:
    parts = " ".join(f"WHEN {column} < {t} THEN '{s}'" for s, t in STATUSES)
    return f"(CASE {parts} END)"


class Seeder:
    def __init__(self, cursor: Any, counts: Counts, now: datetime, log: Callable[[str], None]) -> None:
        self.cur, self.counts, self.now, self.log = cursor, counts, now, log
        self.timings: dict[str, float] = {}

    def sql(self, statement: str, params: Any = None) -> None:
        self.cur.execute(statement, params)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - started, 1)
        self.log(f"seed: {name} in {self.timings[name]} s")

    @contextmanager
    def secondary_indexes_dropped(self, table: str) -> Iterator[None]:
        """Drop the table's indexes, rebuild them afterwards with the same definitions: one sort each instead of
        millions of random inserts. Primary key and unique constraints go too when no foreign key points at the
        table (they are added back as constraints); the others keep their index during the load."""
        self.sql("SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass", [table])
        referenced = self.cur.fetchone() is not None
        self.sql("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                    WHERE conrelid = %s::regclass AND contype IN ('p', 'u')""", [table])
        constraints = [] if referenced else self.cur.fetchall()
        for name, _ in constraints:
            self.sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        self.sql("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                    WHERE i.tablename = %s AND NOT EXISTS (
                        SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""", [table])
        indexes = self.cur.fetchall()
        for name, _ in indexes:
            self.sql(f'DROP INDEX "{name}"')
        yield
        for name, definition in constraints:
            self.sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            self.sql(definition)

    def run(self, staff_id: Any) -> dict[str, float]:
        self.sql("SET synchronous_commit = off")
        self.sql("SET maintenance_work_mem = '512MB'")
        self.sql("SET work_mem = '64MB'")
        self.sql("SET session_replication_role = replica")  # needs a superuser, as the benches' DATABASE_URL has
        self.staff_id = staff_id
        with self.step("catalogue"):
            self.catalogue()
        with self.step("riders"):
            self.riders()
        with self.step("vehicles"):
            self.vehicles()
        with self.step("vehicle events"):
            self.events()
        with self.step("rides"):
            self.rides()
        with self.step("ledger"):
            self.ledger()
        with self.step("commands, alerts, tasks"):
            self.ops()
        with self.step("telemetry"):
            self.telemetry()
        self.sql("SET session_replication_role = origin")
        with self.step("vacuum analyze"):  # the steady state autovacuum keeps: statistics, visibility map
            self.sql("VACUUM (ANALYZE)")
        return self.timings

    # --- catalogue: cities, types, tariffs (through the services: the fare JSON of a ride comes from them) -------

    def catalogue(self) -> None:
        from billing import fares
        from billing.services import tariffs
        from fleet import services as fleet_services
        from fleet.models import City, VehicleType

        self.sql("SET session_replication_role = origin")  # the services' own writes keep every check
        self.cities: list[tuple[Any, float, float, float]] = []
        types = [VehicleType.objects.create(code=code, name=name, form_factor=form, propulsion_type=prop,
                                            max_range_meters=40_000) for code, name, form, prop in TYPES]
        self.type_ids = [t.id for t in types]
        for slug, name, tz, lat, lon, share in CITIES:
            city = City.objects.create(slug=slug, name=name, timezone=tz, currency="EUR")
            box = [[lon - 0.2, lat - 0.15], [lon + 0.2, lat - 0.15], [lon + 0.2, lat + 0.15],
                   [lon - 0.2, lat + 0.15], [lon - 0.2, lat - 0.15]]
            fleet_services.zone_create(city=city, name=f"{name} operating area", kind="operating_area",
                                       geometry={"type": "MultiPolygon", "coordinates": [[box]]})
            for vtype in types:
                tariff = tariffs.tariff_publish(city=city, vehicle_type=vtype, unlock_fee=Decimal("1.00"),
                                                brackets=[{"start_minute": 0, "per_minute": "0.25"}],
                                                pause_per_minute=Decimal("0.10"))
            self.cities.append((city.id, lat, lon, share))
        snapshot = tariffs.tariff_snapshot(tariff)
        self.tariff_json = json.dumps(snapshot.to_json())
        fare = fares.compute_fare(snapshot, fares.RideUsage(riding_seconds=720, distance_m=2400))
        self.fare_json = json.dumps(fare.to_json())
        self.sql("SET session_replication_role = replica")

    # --- riders -------------------------------------------------------------------------------------------------

    def riders(self) -> None:
        n = self.counts.riders
        self.sql("CREATE TEMP TABLE bu AS SELECT g AS n, gen_random_uuid() AS id FROM generate_series(1, %s::bigint) g", [n])
        self.sql("CREATE UNIQUE INDEX ON bu (n)")
        with self.secondary_indexes_dropped("accounts_user"):
            self.sql("""
                INSERT INTO accounts_user (id, password, is_superuser, email, phone, name, date_of_birth, status,
                    blocked_reason, is_staff, is_active, created_at, updated_at, time_zone)
                SELECT bu.id, '!', false, 'rider' || bu.n || '@example.com', '', 'Rider ' || bu.n,
                       date '1970-01-01' + (bu.n %% 12000)::int, 'active', '', false, true,
                       %(now)s - (%(days)s * interval '1 day') * (1 - bu.n::float / %(n)s) - interval '30 days',
                       %(now)s, ''
                FROM bu""", {"now": self.now, "days": HISTORY_DAYS, "n": n})

    # --- vehicles -----------------------------------------------------------------------------------------------

    def vehicles(self) -> None:
        n = self.counts.vehicles
        bounds = city_bounds(n)  # city k owns the vehicle numbers (bounds[k], bounds[k+1]]
        self.city_ranges = {self.cities[k][0]: (bounds[k] + 1, bounds[k + 1]) for k in range(len(self.cities))}
        rows = ", ".join(f"({k}, '{cid}'::uuid, {lat}, {lon}, {bounds[k] + 1}, {bounds[k + 1]})"
                         for k, (cid, lat, lon, _) in enumerate(self.cities))
        types = ", ".join(f"'{t}'::uuid" for t in self.type_ids)
        self.sql(f"""
            CREATE TEMP TABLE bv AS
            SELECT g AS n, gen_random_uuid() AS id, c.cid AS city_id, (ARRAY[{types}])[1 + mod(g, 3)] AS type_id,
                   c.lat + (random() - 0.5) * 0.3 AS lat, c.lon + (random() - 0.5) * 0.4 AS lon, random() AS r
            FROM (VALUES {rows}) AS c(k, cid, lat, lon, lo, hi), generate_series(c.lo, c.hi) g""")
        self.sql("CREATE UNIQUE INDEX ON bv (n)")
        self.sql("ALTER TABLE bv ADD COLUMN status text, ADD COLUMN trip_id uuid")
        self.sql(f"UPDATE bv SET status = {_status_case('r')}")
        self.sql("UPDATE bv SET trip_id = gen_random_uuid() WHERE status IN ('on_trip', 'reserved')")
        with self.secondary_indexes_dropped("fleet_vehicle"):
            self.sql("""
                INSERT INTO fleet_vehicle (id, code, imei, vehicle_type_id, city_id, status, status_before_loss,
                    last_event_at, trip_id, battery_pct, range_meters, lat, lon, cell, position_at, locked,
                    odometer_meters, speed_kph, last_seen_at, flags, secret_hash, created_at, updated_at)
                SELECT id, 'V' || lpad(n::text, 7, '0'), lpad(n::text, 15, '0'), type_id, city_id, status,
                       CASE WHEN status IN ('non_contactable', 'missing') THEN 'available' ELSE '' END,
                       %(now)s - interval '1 hour' * (r * 200), trip_id,
                       CASE WHEN status = 'low_battery' THEN (r * 1000)::int %% 15 ELSE 15 + (r * 10000)::int %% 86 END,
                       (r * 40000)::int, lat, lon,
                       floor((lat + 90) / 0.01)::int * 36000 + (floor((lon + 180) / 0.01)::int %% 36000),
                       %(now)s - interval '1 second' * (CASE WHEN status IN ('non_contactable', 'missing')
                                                        THEN 3 * 86400 * r ELSE 600 * r END),
                       status <> 'on_trip', (r * 5000000)::bigint, CASE WHEN status = 'on_trip' THEN 18 ELSE 0 END,
                       %(now)s - interval '1 second' * (CASE WHEN status IN ('non_contactable', 'missing')
                                                        THEN 3 * 86400 * r ELSE 600 * r END),
                       CASE WHEN r > 0.985 THEN ARRAY['damaged']::varchar[] ELSE '{}'::varchar[] END, '',
                       %(now)s - interval '200 days', %(now)s
                FROM bv""", {"now": self.now})

    # --- vehicle events: the append-only log, in time order, round robin over the fleet --------------------------

    def events(self) -> None:
        n, nv = self.counts.events, self.counts.vehicles
        with self.secondary_indexes_dropped("fleet_vehicleevent"):
            self.sql("""
                INSERT INTO fleet_vehicleevent (id, vehicle_id, vehicle_state, event_types, status, previous_status,
                    timestamp, recorded_at, applied, lat, lon, battery_pct, trip_id, actor_kind, actor_id)
                SELECT gen_random_uuid(), bv.id, e.state, e.types, e.status, e.previous,
                       ts, ts + interval '2 seconds', g %% 500 <> 0, bv.lat, bv.lon, 20 + g %% 80,
                       CASE WHEN e.state IN ('on_trip', 'reserved') OR e.types = ARRAY['trip_end']::varchar[]
                            THEN gen_random_uuid() END,
                       e.actor, CASE WHEN e.actor = 'ops' THEN %(staff)s::uuid END
                FROM (SELECT g, %(now)s - (%(days)s * interval '1 day') * (1 - g::float / %(n)s) AS ts
                      FROM generate_series(1, %(n)s::bigint) g) s
                JOIN bv ON bv.n = 1 + (g * 7919) %% %(nv)s
                JOIN (VALUES
                    (0, 'reserved', ARRAY['reservation_start']::varchar[], 'reserved', 'available', 'rider'),
                    (1, 'on_trip', ARRAY['trip_start']::varchar[], 'on_trip', 'reserved', 'rider'),
                    (2, 'available', ARRAY['trip_end']::varchar[], 'available', 'on_trip', 'rider'),
                    (3, 'non_operational', ARRAY['battery_low']::varchar[], 'low_battery', 'available', 'device'),
                    (4, 'non_operational', ARRAY['maintenance']::varchar[], 'maintenance', 'low_battery', 'ops'),
                    (5, 'available', ARRAY['maintenance_end']::varchar[], 'available', 'maintenance', 'ops'),
                    (6, 'non_contactable', ARRAY['comms_lost']::varchar[], 'non_contactable', 'available', 'system'),
                    (7, 'available', ARRAY['comms_restored']::varchar[], 'available', 'non_contactable', 'system')
                ) AS e(k, state, types, status, previous, actor) ON e.k = (g / %(nv)s) %% 8
                """, {"now": self.now, "days": HISTORY_DAYS, "n": n, "nv": nv, "staff": self.staff_id})

    # --- rides: past ones over 90 days, plus the open ride of each vehicle on a trip or reserved ----------------

    def rides(self) -> None:
        n, nu, nv = self.counts.rides, self.counts.riders, self.counts.vehicles
        self.sql("""
            CREATE TEMP TABLE br AS
            SELECT g AS n, gen_random_uuid() AS id, bu.id AS rider_id, bv.id AS vehicle_id, bv.type_id,
                   bv.city_id, bv.lat, bv.lon,
                   %(now)s - (%(days)s * interval '1 day') * (1 - g::float / %(n)s) - interval '1 hour' AS created,
                   CASE WHEN g %% 40 = 0 THEN 'cancelled' ELSE 'ended' END AS state,
                   120 + (g * 37) %% 1500 AS duration, 200 + (g * 53) %% 6000 AS distance
            FROM generate_series(1, %(n)s::bigint) g
            JOIN bu ON bu.n = 1 + (g * 104729) %% %(nu)s
            JOIN bv ON bv.n = 1 + (g * 7919) %% %(nv)s""",
                 {"now": self.now, "days": HISTORY_DAYS, "n": n, "nu": nu, "nv": nv})
        self.sql("CREATE UNIQUE INDEX ON br (n)")
        # The fare of an ended ride: 1.00 unlock + 0.25 per started minute, 19 % VAT included.
        self.sql("ALTER TABLE br ADD COLUMN total numeric(10, 2)")
        self.sql("UPDATE br SET total = CASE WHEN state = 'ended' THEN 1 + 0.25 * ceil(duration / 60.0) END")
        with self.secondary_indexes_dropped("rides_ride"):
            self.sql("""
                INSERT INTO rides_ride (id, rider_id, vehicle_id, vehicle_type_id, city_id, state, tariff, currency,
                    created_at, started_at, ended_at, paused_seconds, pause_count, start_lat, start_lon, end_lat,
                    end_lon, duration_s, distance_m, fare, fare_total, parking_photo, end_reason, end_note,
                    cancel_reason)
                SELECT id, rider_id, vehicle_id, type_id, city_id, state, %(tariff)s::jsonb, 'EUR', created,
                       CASE WHEN state = 'ended' THEN created + interval '5 seconds' END,
                       created + interval '1 second' * CASE WHEN state = 'ended' THEN duration ELSE 30 END,
                       0, 0, lat, lon, lat + 0.003, lon + 0.004,
                       CASE WHEN state = 'ended' THEN duration END, CASE WHEN state = 'ended' THEN distance END,
                       CASE WHEN state = 'ended' THEN jsonb_set(%(fare)s::jsonb, '{total}', to_jsonb(total::text)) END,
                       total, '', CASE WHEN state = 'ended' THEN (CASE WHEN n %% 97 = 0 THEN 'ops' ELSE 'rider' END)
                                       ELSE '' END,
                       '', CASE WHEN state = 'cancelled' THEN 'unlock_failed' ELSE '' END
                FROM br""", {"tariff": self.tariff_json, "fare": self.fare_json})
            # Open rides: the vehicles on a trip (active) or reserved (unlocking), one rider each (riders n = vehicle n)
            self.sql("""
                INSERT INTO rides_ride (id, rider_id, vehicle_id, vehicle_type_id, city_id, state, tariff, currency,
                    created_at, started_at, paused_seconds, pause_count, start_lat, start_lon, parking_photo,
                    end_reason, end_note, cancel_reason)
                SELECT bv.trip_id, bu.id, bv.id, bv.type_id, bv.city_id,
                       CASE WHEN bv.status = 'on_trip' THEN 'active' ELSE 'unlocking' END, %(tariff)s::jsonb, 'EUR',
                       %(now)s - interval '1 second' * (60 + 1200 * bv.r),
                       CASE WHEN bv.status = 'on_trip' THEN %(now)s - interval '1 second' * (55 + 1200 * bv.r) END,
                       0, 0, bv.lat, bv.lon, '', '', '', ''
                FROM bv JOIN bu ON bu.n = 1 + (bv.n - 1) %% %(nu)s
                WHERE bv.trip_id IS NOT NULL""", {"tariff": self.tariff_json, "now": self.now, "nu": nu})

    # --- ledger: per ride a top-up (2 entries) and a ride charge (3 entries): 5 per ride, balanced --------------

    def ledger(self) -> None:
        rides = min(self.counts.rides, math.ceil(self.counts.ledger_entries / 5))
        cities = ", ".join(f"('{cid}'::uuid)" for cid, *_ in self.cities)
        self.sql(f"""
            INSERT INTO billing_ledgeraccount (code, kind, currency, balance, created_at, city_id, user_id)
            SELECT kind || ':' || cid || ':EUR', kind, 'EUR', 0, %(now)s - interval '1 year', cid, NULL::uuid
            FROM (VALUES {cities}) c(cid), (VALUES ('revenue'), ('vat_payable')) k(kind)
            UNION ALL SELECT 'psp_clearing:testpsp:EUR', 'psp_clearing', 'EUR', 0, %(now)s - interval '1 year',
                             NULL::uuid, NULL::uuid
            UNION ALL SELECT 'rider_cash:' || bu.id || ':EUR', 'rider_cash', 'EUR', 0, %(now)s - interval '60 days',
                             NULL::uuid, bu.id FROM bu""", {"now": self.now})
        self.sql("""
            CREATE TEMP TABLE bl AS
            SELECT br.n, br.id AS ride_id, br.rider_id, br.created, br.total,
                   cash.id AS cash, rev.id AS revenue, vat.id AS vat,
                   round(br.total / 1.19, 4) AS net, br.total - round(br.total / 1.19, 4) AS tax
            FROM br
            JOIN billing_ledgeraccount cash ON cash.user_id = br.rider_id AND cash.kind = 'rider_cash'
            JOIN billing_ledgeraccount rev ON rev.city_id = br.city_id AND rev.kind = 'revenue'
            JOIN billing_ledgeraccount vat ON vat.city_id = br.city_id AND vat.kind = 'vat_payable'
            WHERE br.state = 'ended' AND br.n <= %s""", [rides])
        self.sql("ALTER TABLE bl ADD COLUMN topup uuid DEFAULT gen_random_uuid(), "
                 "ADD COLUMN charge uuid DEFAULT gen_random_uuid()")
        with (self.secondary_indexes_dropped("billing_ledgertransaction"),
              self.secondary_indexes_dropped("billing_ledgerentry")):
            self.sql("""
                INSERT INTO billing_ledgertransaction (id, kind, idempotency_key, description, user_id, ride_id,
                    metadata, created_at)
                SELECT topup, 'top_up', 'bench:top_up:' || n, 'Wallet top-up', rider_id, NULL, '{}',
                       created - interval '10 minutes' FROM bl
                UNION ALL
                SELECT charge, 'ride_charge', 'bench:ride_charge:' || n, 'Ride ' || ride_id, rider_id, ride_id,
                       jsonb_build_object('fare', jsonb_build_object('total', total::text, 'discounts', '0.00')),
                       created + interval '20 minutes' FROM bl""")
            psp = "(SELECT id FROM billing_ledgeraccount WHERE kind = 'psp_clearing')"
            self.sql(f"""
                INSERT INTO billing_ledgerentry (transaction_id, account_id, currency, amount, created_at)
                SELECT topup, cash, 'EUR', -(total + 5), created - interval '10 minutes' FROM bl
                UNION ALL SELECT topup, {psp}, 'EUR', total + 5, created - interval '10 minutes' FROM bl
                UNION ALL SELECT charge, cash, 'EUR', total, created + interval '20 minutes' FROM bl
                UNION ALL SELECT charge, revenue, 'EUR', -net, created + interval '20 minutes' FROM bl
                UNION ALL SELECT charge, vat, 'EUR', -tax, created + interval '20 minutes' FROM bl""")
        # The cached balances, as billing_reconcile would compute them (every wallet ends 5.00 per ride in credit).
        self.sql("""UPDATE billing_ledgeraccount a SET balance = s.sum
                    FROM (SELECT account_id, sum(amount) AS sum FROM billing_ledgerentry GROUP BY account_id) s
                    WHERE s.account_id = a.id""")

    # --- commands (unlock/lock of past rides), ops alerts and tasks --------------------------------------------

    def ops(self) -> None:
        n, na, nt, nv = self.counts.commands, self.counts.alerts, self.counts.tasks, self.counts.vehicles
        with self.secondary_indexes_dropped("fleet_command"):
            self.sql("""
                INSERT INTO fleet_command (id, vehicle_id, kind, params, state, idempotency_key, correlation_id,
                    attempts, created_at, expires_at, sent_at, ack_deadline, acked_at, finished_at, failure_reason,
                    actor_id)
                SELECT gen_random_uuid(), bv.id, (ARRAY['unlock', 'lock', 'locate', 'set_speed_limit'])[1 + g %% 4],
                       CASE WHEN g %% 4 = 3 THEN '{"max_kph": 15}'::jsonb ELSE '{}'::jsonb END,
                       CASE WHEN g %% 50 = 0 THEN 'timed_out' ELSE 'acked' END, 'bench:' || g, gen_random_uuid(), 1,
                       ts, ts + interval '1 minute', ts + interval '1 second', ts + interval '20 seconds',
                       CASE WHEN g %% 50 <> 0 THEN ts + interval '2 seconds' END, ts + interval '2 seconds',
                       CASE WHEN g %% 50 = 0 THEN 'no acknowledgement' ELSE '' END,
                       CASE WHEN g %% 4 >= 2 THEN %(staff)s::uuid END
                FROM (SELECT g, %(now)s - (%(days)s * interval '1 day') * (1 - g::float / %(n)s) AS ts
                      FROM generate_series(1, %(n)s::bigint) g) s
                JOIN bv ON bv.n = 1 + (g * 7919) %% %(nv)s""",
                     {"now": self.now, "days": HISTORY_DAYS, "n": n, "nv": nv, "staff": self.staff_id})
        # Alerts: the newest 2 % are open (one per vehicle and kind: distinct vehicles), the rest resolved.
        self.sql("""
            INSERT INTO fleet_opsalert (id, vehicle_id, city_id, kind, severity, message, data, opened_at,
                resolved_at, resolved_by_id)
            SELECT gen_random_uuid(), bv.id, bv.city_id,
                   (ARRAY['tipped_over', 'tamper', 'no_ride_zone', 'lock_unconfirmed'])[1 + g %% 4],
                   (ARRAY['info', 'warning', 'critical'])[1 + g %% 3], 'Bench alert ' || g, '{"source": "bench"}',
                   ts, CASE WHEN g <= %(n)s * 0.98 THEN ts + interval '30 minutes' END,
                   CASE WHEN g <= %(n)s * 0.98 THEN %(staff)s::uuid END
            FROM (SELECT g, %(now)s - (%(days)s * interval '1 day') * (1 - g::float / %(n)s) AS ts
                  FROM generate_series(1, %(n)s::bigint) g) s
            JOIN bv ON bv.n = 1 + g %% %(nv)s""",
                 {"now": self.now, "days": HISTORY_DAYS, "n": na, "nv": nv, "staff": self.staff_id})
        self.sql("""
            INSERT INTO fleet_opstask (id, vehicle_id, city_id, kind, state, reason, created_at, closed_at,
                assignee_id, closed_by_id)
            SELECT gen_random_uuid(), bv.id, bv.city_id,
                   (ARRAY['swap_battery', 'inspect', 'retrieve', 'rebalance'])[1 + g %% 4],
                   CASE WHEN g > %(n)s * 0.95 THEN 'open' WHEN g %% 10 = 0 THEN 'cancelled' ELSE 'done' END,
                   'Bench task ' || g, ts, CASE WHEN g <= %(n)s * 0.95 THEN ts + interval '3 hours' END,
                   CASE WHEN g <= %(n)s * 0.95 THEN %(staff)s::uuid END,
                   CASE WHEN g <= %(n)s * 0.95 THEN %(staff)s::uuid END
            FROM (SELECT g, %(now)s - (%(days)s * interval '1 day') * (1 - g::float / %(n)s) AS ts
                  FROM generate_series(1, %(n)s::bigint) g) s
            JOIN bv ON bv.n = 1 + g %% %(nv)s""",
                 {"now": self.now, "days": HISTORY_DAYS, "n": nt, "nv": nv, "staff": self.staff_id})

    # --- telemetry: readings k = 0..T-1 evenly over the last 7 days, round robin over the fleet -----------------

    def telemetry(self) -> None:
        from telemetry import storage

        total, nv = self.counts.telemetry, self.counts.vehicles
        start = self.now - timedelta(days=TELEMETRY_DAYS)
        step = (self.now - start).total_seconds() / total
        day = start.astimezone(UTC).date()
        while day <= self.now.date():
            day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            lo = max(0, math.ceil((day_start - start).total_seconds() / step))
            hi = min(total, math.ceil((day_start + timedelta(days=1) - start).total_seconds() / step))
            name = storage.partition_name(day)
            self.sql(f"CREATE TABLE {name} (LIKE telemetry_reading INCLUDING DEFAULTS)")
            if hi > lo:
                self.sql(f"""
                    INSERT INTO {name} (vehicle_id, seq, at, received_at, lat, lon, accuracy_m, heading, speed_kph,
                        battery_pct, locked, odometer_m)
                    SELECT bv.id, k / %(nv)s, at, at + interval '300 milliseconds',
                           bv.lat + 0.002 * sin(k / %(nv)s / 10.0), bv.lon + 0.003 * cos(k / %(nv)s / 10.0),
                           5, (k %% 360), CASE WHEN bv.status = 'on_trip' THEN 15 + k %% 10 ELSE 0 END,
                           greatest(5, 100 - (k / %(nv)s) %% 96), bv.status <> 'on_trip', k
                    FROM (SELECT k, %(start)s + interval '1 second' * (k * %(step)s) AS at
                          FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) k) s
                    JOIN bv ON bv.n = 1 + k %% %(nv)s""",
                         {"nv": nv, "start": start, "step": step, "lo": lo, "hi": hi})
            end = day + timedelta(days=1)
            self.sql(f"ALTER TABLE telemetry_reading ATTACH PARTITION {name} "
                     f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') TO ('{end.isoformat()} 00:00+00')")
            day = end
