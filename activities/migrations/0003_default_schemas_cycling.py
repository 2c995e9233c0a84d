"""Data migration: the cycling activity schema and the timeframe parameters schema's version
with `ascending` lists, for databases migrated before they shipped (a no-op on a fresh one,
whose 0002 already installed the current definitions)."""

from django.db import migrations


def install(apps, schema_editor) -> None:
    from activities.default_schemas import default_schemas_install

    default_schemas_install(apps.get_model("activities", "JsonSchema"))


class Migration(migrations.Migration):
    dependencies = [("activities", "0002_default_schemas")]

    # Going back keeps the rows: 0002's reverse removes the shipped schemas nothing refers to.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
