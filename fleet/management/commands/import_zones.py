"""``manage.py import_zones CITY FILE.geojson [--replace]``: load a city's zones from a GeoJSON FeatureCollection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Import zones for a city (slug) from a GeoJSON FeatureCollection; all features or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("city", help="City slug, e.g. berlin")
        parser.add_argument("file", type=Path, help="GeoJSON FeatureCollection (properties: kind, name, rules...)")
        parser.add_argument("--replace", action="store_true",
                            help="Delete the city's existing zones first (default: keep them and add these)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: the parser (--help) loads without the app registry.
        from core import audit
        from core.errors import DomainError
        from fleet import services
        from fleet.models import City

        city = City.objects.filter(slug=options["city"]).first()
        if city is None:
            raise CommandError(f"No city with slug {options['city']!r}.")
        try:
            collection = json.loads(options["file"].read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}") from exc
        try:
            with audit.command_context("import_zones"):
                zones = services.zones_import(city=city, collection=collection, replace=options["replace"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail_message}") from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {len(zones)} zones into {city.name}."))
