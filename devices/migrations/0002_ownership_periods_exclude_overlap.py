"""PostgreSQL only: no two ownership periods of one device overlap (so at most one is ongoing).

The constraint is what makes "ten managers take one device at once → exactly one wins" true
whatever the interleaving: the service's own check can race, the exclusion constraint cannot.
SQLite (embedded mode) has no exclusion constraints; there the service's check runs inside an
IMMEDIATE transaction, which already serialises writers. Hence raw SQL guarded by vendor rather
than `ExclusionConstraint` in the model's Meta (which `migrate` would try on SQLite too).
"""

from django.db import migrations

CONSTRAINT = "ownership_periods_no_overlap"


def add_constraint(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE devices_deviceownership ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (device_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&)"
    )


def drop_constraint(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other apps' constraints (timeframes) may use it too.
    schema_editor.execute(
        f"ALTER TABLE devices_deviceownership DROP CONSTRAINT IF EXISTS {CONSTRAINT}"
    )


class Migration(migrations.Migration):
    dependencies = [("devices", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, drop_constraint)]
