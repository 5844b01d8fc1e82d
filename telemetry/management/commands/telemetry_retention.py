"""``manage.py telemetry_retention [--days N] [--dry-run]``: drop history partitions older than N days."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry import storage


class Command(BaseCommand):
    help = "Drop telemetry history day partitions older than --days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.TELEMETRY_RETENTION_DAYS,
                            help="Drop the day partitions older than this many days "
                                 "(default: TELEMETRY_RETENTION_DAYS, %(default)s).")
        parser.add_argument("--dry-run", action="store_true",
                            help="List what would be dropped, drop nothing (default: drop).")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        oldest_accepted = -(-settings.TELEMETRY_MAX_AGE_S // 86_400)
        if days < oldest_accepted:
            # A partition the edges may still write into (ts up to TELEMETRY_MAX_AGE_S old) must stay.
            raise CommandError(f"--days must be at least {oldest_accepted} (TELEMETRY_MAX_AGE_S)")
        dropped = storage.drop_older_than(days=days, dry_run=options["dry_run"])
        verb = "would drop" if options["dry_run"] else "dropped"
        self.stdout.write(f"{verb} {len(dropped)} partition(s)" + (
            f": {', '.join(storage.partition_name(d) for d in dropped)}" if dropped else ""))
