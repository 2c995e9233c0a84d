#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asi_api.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings: a configuration error, said plainly
    except ImproperlyConfigured as error:
        sys.exit(
            f"manage.py: {error}\n"
            "Settings come from the environment (see .env.example); for a local try, "
            "DEBUG=true is enough."
        )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
