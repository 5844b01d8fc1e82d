from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """An index for a vehicle's newest rides on its admin page, built CONCURRENTLY so rides stay writable."""

    atomic = False

    dependencies = [
        ("rides", "0003_ride_city_ended"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ride",
            index=models.Index(fields=["vehicle", "-created_at"], name="ride_vehicle_created"),
        ),
    ]
