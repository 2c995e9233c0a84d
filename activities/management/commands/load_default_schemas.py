from django.core.management.base import BaseCommand
from django.db import transaction

from activities.default_schemas import default_schemas_install
from activities.models import JsonSchema


class Command(BaseCommand):
    help = (
        "Install the shipped JSON schemas (one activity schema per sport and the timeframe "
        "analytics parameters). Safe to run again: a schema whose latest version already holds "
        "the shipped definition is left alone; one that differs gets a new version."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            outcomes = default_schemas_install(JsonSchema)
        for name, outcome in outcomes:
            latest = JsonSchema.objects.filter(name=name).order_by("-version").first()
            self.stdout.write(f"{name}: {outcome} (id {latest.pk}, version {latest.version})")
        created = sum(outcome != "unchanged" for _, outcome in outcomes)
        self.stdout.write(self.style.SUCCESS(f"{created} schema version(s) added."))
