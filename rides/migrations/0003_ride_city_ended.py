from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """An index for MDS /trips (rides of a city that ended in an hour), built CONCURRENTLY so rides stay writable."""

    atomic = False

    dependencies = [
        ("rides", "0002_reservation_fee_charged_at"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="ride",
            index=models.Index(fields=["city", "ended_at"], name="ride_city_ended"),
        ),
    ]
