"""The channels SPEC §6 names, with their fields in storage order."""

from django.db import migrations

KNOWN = {
    "gnss": ["latitude", "longitude", "speed", "altitude"],
    "ecg": ["hr"],
    "pwr": ["pwr_cadence", "pwr_instantpower"],
    "device": ["standstill", "Bat_lvl"],
}


def add_known(apps, schema_editor) -> None:
    SampleChannel = apps.get_model("devices", "SampleChannel")
    for name, fields in KNOWN.items():
        SampleChannel.objects.get_or_create(name=name, defaults={"fields": fields})


def remove_known(apps, schema_editor) -> None:
    apps.get_model("devices", "SampleChannel").objects.filter(name__in=KNOWN).delete()


class Migration(migrations.Migration):
    dependencies = [("devices", "0003_samples")]

    operations = [migrations.RunPython(add_known, remove_known)]
