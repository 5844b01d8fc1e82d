"""Every staff member who exists before cities were introduced keeps seeing every city: an upgrade changes nothing.
Staff created afterwards see no city until someone gives them one (docs/accounts.md "Cities")."""

from typing import Any

from django.db import migrations


def grant_all(apps: Any, schema_editor: Any) -> None:
    user_model = apps.get_model("accounts", "User")
    staff_cities = apps.get_model("fleet", "StaffCities")
    have = set(staff_cities.objects.values_list("user_id", flat=True))
    staff_cities.objects.bulk_create([
        staff_cities(user_id=pk, all_cities=True)
        for pk in user_model.objects.filter(is_staff=True).values_list("pk", flat=True) if pk not in have
    ])


class Migration(migrations.Migration):
    dependencies = [("fleet", "0019_staff_cities"), ("accounts", "0008_user_name_upper_prefix")]

    operations = [migrations.RunPython(grant_all, migrations.RunPython.noop)]
