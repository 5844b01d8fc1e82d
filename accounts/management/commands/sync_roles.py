from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the staff role groups and give each exactly the permissions the apps' roles.py declare."

    def handle(self, *args: Any, **options: Any) -> None:
        from accounts.services import roles  # here: the parser (--help) loads without the app registry

        report = roles.roles_sync()
        for role, perms in report.granted.items():
            marker = " (created)" if role in report.created else ""
            self.stdout.write(f"{role}{marker}: {', '.join(perms) or '-'}")
        for line in report.problems():
            self.stdout.write(self.style.WARNING(line))
