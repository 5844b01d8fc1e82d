"""``manage.py mds_agency_token --city <slug> [--city <slug> ...] --name <agency>``: a new MDS token for scripts."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = ("Create the MDS agency NAME if needed, add the cities it regulates, issue a new bearer token and print "
            "only the token (for scripts). Older tokens of the agency stay valid until revoked in the admin.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True,
                            help="The agency's name, e.g. 'Berlin SenMVKU' (required, no default)")
        parser.add_argument("--city", action="append", required=True, dest="cities", metavar="SLUG",
                            help="Slug of a city the agency regulates; repeat for several (required, no default; "
                                 "cities are added to the agency's, never removed)")

    def handle(self, *args: Any, name: str, cities: list[str], **options: Any) -> None:
        # Imported here: the parser (--help) loads without the app registry.
        from core.errors import DomainError
        from feeds.mds import services

        if not name.strip():
            raise CommandError("--name must not be empty")
        try:
            agency = services.agency_ensure(name=name, city_slugs=cities)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        from core import audit

        with audit.command_context("mds_agency_token"):
            _, token = services.credential_issue(agency=agency)
        self.stdout.write(token)
