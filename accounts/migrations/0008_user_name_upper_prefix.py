"""The search by a name's beginning in any case (support's rider search, the user list; issue 22)."""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: millions of riders in production; sign-ups go on meanwhile.
    atomic = False

    dependencies = [
        ('accounts', '0007_admin_indexes'),
        ('auth', '0012_alter_user_first_name_max_length'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper(django.db.models.functions.comparison.Cast('name', models.TextField())), name='text_pattern_ops'), name='user_name_upper_prefix'),
        ),
    ]
