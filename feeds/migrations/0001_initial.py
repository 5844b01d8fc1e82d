from django.db import migrations


class Migration(migrations.Migration):
    """The feeds app's first migration: empty, so that GBFS and MDS models each start from it."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations: list[migrations.operations.base.Operation] = []
