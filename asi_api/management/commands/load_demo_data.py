import sys

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

# The apps' demo modules print their URLs on `make run`'s default server.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Load the demo data of `make run` (an admin, managers, athletes, one OAuth application "
        "per grant type, ...). Safe to run again: existing rows are reused and reset."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"the server's URL in the printed instructions (default {DEFAULT_BASE_URL})",
        )

    def handle(self, *args, **options) -> None:
        # Each app that has demo data provides `<app>.demo.load() -> list[str]` (lines to print).
        # Later apps build on earlier ones' rows: INSTALLED_APPS lists the apps in their
        # dependency order (tests/asi_api/test_dependencies.py checks it), lower apps first.
        autodiscover_modules("demo")
        lines: list[str] = []
        with transaction.atomic():
            for app in apps.get_app_configs():
                demo = sys.modules.get(f"{app.name}.demo")
                if demo is not None and hasattr(demo, "load"):
                    lines += demo.load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        base_url = options["base_url"].rstrip("/")
        for line in lines:
            self.stdout.write(line.replace(DEFAULT_BASE_URL, base_url))
