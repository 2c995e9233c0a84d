"""Data migration: install the shipped JSON schemas (activities/default_schemas.py)."""

from django.db import migrations
from django.db.models import ProtectedError


def install(apps, schema_editor) -> None:
    from activities.default_schemas import default_schemas_install

    default_schemas_install(apps.get_model("activities", "JsonSchema"))


def uninstall(apps, schema_editor) -> None:
    # Only rows nothing refers to can go; schemas in use (activities, timeframes, later
    # versions all PROTECT them) stay rather than make the rollback fail.
    from activities.default_schemas import DEFAULT_SCHEMAS

    JsonSchema = apps.get_model("activities", "JsonSchema")
    names = [name for name, _, _ in DEFAULT_SCHEMAS]
    for row in JsonSchema.objects.filter(name__in=names).order_by("-version"):
        try:
            row.delete()
        except ProtectedError:
            pass


class Migration(migrations.Migration):
    dependencies = [("activities", "0001_json_schema_and_activity")]

    operations = [migrations.RunPython(install, uninstall)]
