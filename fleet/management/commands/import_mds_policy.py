"""``manage.py import_mds_policy --city SLUG FILE-OR-URL... [--apply]``: a city's MDS Policy + Geography into zones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = ("Import a city's MDS 2.0 Policy and Geography documents (files or URLs: /policies and /geographies "
            "response bodies, or a Policy and its Geographies) into its zones. Without --apply, print what would "
            "change and the rules that are not enforced; with --apply, make the changes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--city", required=True, help="City slug, e.g. berlin (required: no default)")
        parser.add_argument("sources", nargs="+", metavar="FILE-OR-URL",
                            help="Policy and Geography documents (https URLs; http only with DEBUG on)")
        parser.add_argument("--apply", action="store_true", help="Apply the plan (default: only print it)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the parser (--help) loads without the app registry.
        from django.conf import settings

        from core import audit
        from core.errors import DomainError
        from fleet.mds_policy import documents, fetch
        from fleet.models import City
        from fleet.selectors import policy_import as policy_selectors
        from fleet.services import policy_import as policy_services

        city = City.objects.filter(slug=options["city"]).first()
        if city is None:
            raise CommandError(f"No city with slug {options['city']!r}.")
        try:
            parsed = [
                (source, documents.parse(fetch.read_source(source, max_bytes=settings.UPLOAD_MAX_BYTES,
                                                           allow_http=settings.DEBUG), source=source))
                for source in options["sources"]
            ]
            docs = documents.combine(parsed)
            if options["apply"]:
                with audit.command_context("import_mds_policy"):
                    plan = policy_services.policy_import(city=city, documents=docs)
            else:
                plan = policy_selectors.policy_plan(city=city, documents=docs)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail_message}") from exc
        self.stdout.write(f"{'Applied' if options['apply'] else 'Plan'} for {city.name}: " + "\n".join(plan.lines()))
        if not options["apply"]:
            self.stdout.write("Nothing changed (dry run): add --apply to make these changes.")
        elif plan.has_changes:
            self.stdout.write(self.style.SUCCESS(f"Zones of {city.name} updated."))
        else:
            self.stdout.write("Nothing to change: the zones already match the documents.")
