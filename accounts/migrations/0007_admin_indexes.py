"""Indexes for the admin at city scale (core.admin_scale, ``python -m bench admin``, issue 21)."""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: the tables are large in production (millions of rows); writes go on meanwhile.
    atomic = False

    dependencies = [
        ('accounts', '0006_user_time_zone_plurals'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(condition=models.Q(('is_staff', True)), fields=['-created_at'],
                               name='user_staff_created'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(condition=models.Q(('is_superuser', True)), fields=['-created_at'],
                               name='user_superuser_created'),
        ),
        AddIndexConcurrently(
            model_name='notification',
            index=models.Index(fields=['kind', '-created_at'], name='notification_kind_created'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(fields=['-created_at'], name='user_created'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper(django.db.models.functions.comparison.Cast('email', models.TextField())), name='text_pattern_ops'), name='user_email_upper_prefix'),
        ),
    ]
