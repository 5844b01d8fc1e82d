from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """An index for the MDS feeds' reads of the event log by time. Built CONCURRENTLY: the log is the largest
    fleet table and must stay writable while the index builds (hence not atomic)."""

    atomic = False

    dependencies = [
        ("fleet", "0012_zone_vehicle_cap_mds_source"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="vehicleevent",
            index=models.Index(fields=["timestamp", "id"], name="vehicleevent_ts_id"),
        ),
    ]
