import django.contrib.postgres.fields
from django.db import migrations, models

CREATE = """
CREATE TABLE telemetry_reading (
    vehicle_id uuid NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    lat double precision,
    lon double precision,
    accuracy_m real,
    heading real,
    speed_kph real,
    battery_pct smallint,
    locked boolean,
    odometer_m bigint,
    alarms varchar(16)[],
    ack_id uuid,
    ack_ok boolean,
    PRIMARY KEY (vehicle_id, seq, at)
) PARTITION BY RANGE (at);
-- Time-range scans over a day's partition: BRIN is tiny and rows arrive roughly in time order.
CREATE INDEX telemetry_reading_at_brin ON telemetry_reading USING brin (at) WITH (pages_per_range = 32);
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.RunSQL(CREATE, "DROP TABLE telemetry_reading"),
        migrations.CreateModel(
            name="HistoryPoint",
            fields=[
                ("pk", models.CompositePrimaryKey("vehicle_id", "seq", "at", blank=True, editable=False,
                                                  primary_key=True, serialize=False)),
                ("vehicle_id", models.UUIDField()),
                ("seq", models.BigIntegerField()),
                ("at", models.DateTimeField(help_text="Device time (the partition key)")),
                ("received_at", models.DateTimeField(help_text="When an edge accepted it")),
                ("lat", models.FloatField(null=True)),
                ("lon", models.FloatField(null=True)),
                ("accuracy_m", models.FloatField(null=True)),
                ("heading", models.FloatField(null=True)),
                ("speed_kph", models.FloatField(null=True)),
                ("battery_pct", models.SmallIntegerField(null=True)),
                ("locked", models.BooleanField(null=True)),
                ("odometer_m", models.BigIntegerField(null=True)),
                ("alarms", django.contrib.postgres.fields.ArrayField(
                    base_field=models.CharField(max_length=16), null=True, size=None)),
                ("ack_id", models.UUIDField(help_text="Correlation id of an acknowledged command", null=True)),
                ("ack_ok", models.BooleanField(null=True)),
            ],
            options={"db_table": "telemetry_reading", "ordering": ["vehicle_id", "seq"], "managed": False},
        ),
    ]
