"""Fill the city of the ride billings that exist (billing keeps it since 0012; rides knows it): staff see the money
of their cities only (docs/accounts.md "Cities"). One UPDATE joined on the ride; billing cannot read rides."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("rides", "0006_ride_reservation_version"), ("billing", "0012_ridebilling_city")]

    operations = [
        migrations.RunSQL(
            "UPDATE billing_ridebilling AS b SET city_id = r.city_id FROM rides_ride AS r "
            "WHERE r.id = b.ride_id AND b.city_id IS NULL",
            migrations.RunSQL.noop,
        ),
    ]
