"""PostgreSQL only: no two timeframes of one device overlap, enforced by the database.

The services check the rule first (and answer 409 naming it); this constraint makes racing
writers safe, since both may pass the check before either commits. `[)` matches the half-open
windows of SPEC §1, so adjacent timeframes ([20:00, 21:00) and [21:00, 22:00)) are allowed.
SQLite (embedded mode) has no exclusion constraints: there the service check runs under
`IMMEDIATE` transactions, which serialise writers.
"""

from django.db import migrations

CONSTRAINT = "timeframe_device_no_overlap"


def add_constraint(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # btree_gist gives GiST an `=` operator class for bigint (device_id). It is a trusted
    # extension since PostgreSQL 13, so a database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE timeframes_timeframe ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (device_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&)"
    )


def drop_constraint(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other apps' constraints (device ownerships) may use it.
    schema_editor.execute(f"ALTER TABLE timeframes_timeframe DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("timeframes", "0001_timeframe")]

    operations = [migrations.RunPython(add_constraint, drop_constraint, elidable=False)]
