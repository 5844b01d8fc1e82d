"""Indexes for the admin at city scale (core.admin_scale, ``python -m bench admin``, issue 21)."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: the tables are large in production (millions of rows); writes go on meanwhile.
    atomic = False

    dependencies = [
        ('rides', '0004_ride_vehicle_created'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='ride',
            index=models.Index(fields=['-created_at'], name='ride_created'),
        ),
        AddIndexConcurrently(
            model_name='ride',
            index=models.Index(fields=['end_reason'], name='ride_end_reason'),
        ),
    ]
