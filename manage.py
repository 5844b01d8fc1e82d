#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    if sys.version_info < (3, 12):
        sys.exit(f"Freewheel needs Python 3.12 or newer, this is {sys.version.split()[0]}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["runserver"]:
        # Daphne's runserver (make run) serves config.asgi, but loads the settings before it: an ASGI process too.
        os.environ.setdefault("ASGI_SERVER", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
