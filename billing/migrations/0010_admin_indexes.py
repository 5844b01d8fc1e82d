"""Indexes for the admin at city scale (core.admin_scale, ``python -m bench admin``, issue 21)."""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: the tables are large in production (millions of rows); writes go on meanwhile.
    atomic = False

    dependencies = [
        ('billing', '0009_reconcile_run'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='ledgeraccount',
            index=models.Index(fields=['currency'], name='ledgeraccount_currency'),
        ),
        AddIndexConcurrently(
            model_name='ledgertransaction',
            index=models.Index(fields=['kind', '-created_at'], name='ledgertransaction_kind_created'),
        ),
    ]
