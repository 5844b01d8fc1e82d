"""``manage.py rollup_rebuild --since 2026-12-01 [--until ...] [--city berlin]``: recompute the dashboard's hourly
rollups of a range from rides and the ledger (idempotent; after a backfill, a fix or a restore)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not an ISO 8601 date or time: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = ("Recompute the admin dashboard's hourly rollups of a time range from rides and the ledger (safe to "
            "re-run; the beat task keeps the last hours itself).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True,
                            help="ISO 8601 date or time, UTC unless it has an offset (required, no default)")
        parser.add_argument("--until", help="ISO 8601 date or time; default: now (only closed hours are built)")
        parser.add_argument("--city", action="append", default=[], metavar="SLUG",
                            help="City slug, repeatable (default: %(default)s, i.e. every city)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the parser (--help) loads without the app registry.
        from console import services
        from fleet import selectors as fleet_selectors

        city_ids = None
        if options["city"]:
            found = fleet_selectors.city_ids_by_slug(slugs=options["city"])
            if missing := set(options["city"]) - set(found):
                raise CommandError(f"unknown city: {', '.join(sorted(missing))}")
            city_ids = list(found.values())
        written = services.rollup_rebuild(since=_moment(options["since"]),
                                          until=_moment(options["until"]) if options["until"] else None,
                                          city_ids=city_ids)
        self.stdout.write(f"rollups rebuilt: {written} city-hours with rides or money")
