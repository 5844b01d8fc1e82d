"""Indexes for the admin at city scale (core.admin_scale, ``python -m bench admin``, issue 21)."""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: the tables are large in production (millions of rows); writes go on meanwhile.
    atomic = False

    dependencies = [
        ('fleet', '0016_ops_alert_kinds_delivery'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='command',
            index=models.Index(fields=['-created_at'], name='command_created'),
        ),
        AddIndexConcurrently(
            model_name='opsalert',
            index=models.Index(fields=['-opened_at'], name='opsalert_opened'),
        ),
        AddIndexConcurrently(
            model_name='opstask',
            index=models.Index(fields=['-created_at'], name='opstask_created'),
        ),
        AddIndexConcurrently(
            model_name='vehicle',
            index=models.Index(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper(django.db.models.functions.comparison.Cast('code', models.TextField())), name='text_pattern_ops'), name='vehicle_code_upper_prefix'),
        ),
        AddIndexConcurrently(
            model_name='vehicleevent',
            index=models.Index(fields=['status', '-timestamp'], name='vehicleevent_status_ts'),
        ),
        AddIndexConcurrently(
            model_name='vehicleevent',
            index=models.Index(fields=['vehicle_state', '-timestamp'], name='vehicleevent_state_ts'),
        ),
        AddIndexConcurrently(
            model_name='vehicleevent',
            index=models.Index(fields=['actor_kind', '-timestamp'], name='vehicleevent_actor_ts'),
        ),
        AddIndexConcurrently(
            model_name='vehicleevent',
            index=models.Index(condition=models.Q(('applied', False)), fields=['-timestamp'], name='vehicleevent_not_applied'),
        ),
        AddIndexConcurrently(
            model_name='vehicleevent',
            index=models.Index(condition=models.Q(('trip_id__isnull', False)), fields=['trip_id'], name='vehicleevent_trip'),
        ),
    ]
