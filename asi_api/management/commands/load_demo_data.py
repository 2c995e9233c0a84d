from importlib import import_module
from importlib.util import find_spec

from django.core.management.base import BaseCommand
from django.db import transaction

# Each app that has demo data provides `<app>.demo.load(stdout) -> list[str]` (lines to print).
# Order matters: later apps build on earlier ones' rows.
DEMO_APPS = ("users", "devices", "activities", "timeframes", "analytics", "webhooks")


class Command(BaseCommand):
    help = (
        "Load the demo data of `make run` (an admin, managers, athletes, one OAuth application "
        "per grant type, ...). Safe to run again: existing rows are reused and reset."
    )

    def handle(self, *args, **options) -> None:
        lines: list[str] = []
        with transaction.atomic():
            for app in DEMO_APPS:
                module = f"{app}.demo"
                if find_spec(module) is not None:
                    lines += import_module(module).load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        for line in lines:
            self.stdout.write(line)
