# The vehicle event log is append-only in the database itself, not only in Python: a trigger refuses every
# UPDATE and DELETE on fleet_vehicleevent, whoever issues it (ORM, admin, psql). TRUNCATE (test teardown)
# is a different statement and stays possible for the database owner.

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION fleet_vehicleevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'fleet_vehicleevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER fleet_vehicleevent_append_only
    BEFORE UPDATE OR DELETE ON fleet_vehicleevent
    FOR EACH ROW EXECUTE FUNCTION fleet_vehicleevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS fleet_vehicleevent_append_only ON fleet_vehicleevent;
DROP FUNCTION IF EXISTS fleet_vehicleevent_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("fleet", "0002_vehicle_command_vehicleevent_zone_and_more"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
