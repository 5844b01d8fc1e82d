"""``manage.py staff_cities EMAIL [--city SLUG ...] [--all]``: show or set which cities a staff member works in
(the user's admin page does the same in its *Cities* box; docs/accounts.md "Cities")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = ("Show a staff member's cities, or set them: --city SLUG (repeatable) for those cities only, --all for "
            "every city. Without either, print them.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The staff member's email")
        parser.add_argument("--city", action="append", default=[], metavar="SLUG",
                            help="A city slug, e.g. berlin; repeat for several (default: %(default)s, no change)")
        parser.add_argument("--all", action="store_true", help="Every city, today's and future ones")

    def handle(self, *args: Any, **options: Any) -> None:
        from accounts import selectors as account_selectors
        from core import audit
        from core.errors import DomainError
        from fleet import selectors, services

        user = account_selectors.user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError(f"No user {options['email']!r}.")
        if options["all"] and options["city"]:
            raise CommandError("Give --all or --city, not both.")
        if options["all"] or options["city"]:
            try:
                cities = selectors.cities_by_slug(slugs=options["city"])
            except DomainError as exc:
                raise CommandError(exc.detail_message) from None
            with audit.command_context("staff_cities"):
                services.staff_cities_set(user=user, cities=cities, all_cities=options["all"], by=None)
        if not user.is_staff:
            self.stderr.write(f"{user.email} is not staff: the cities apply once they are.")
        scope = selectors.staff_city_ids(user)
        shown = "every city" if scope is None else (
            ", ".join(c.slug for c in selectors.staff_cities(user)) or "no city (sees no city-bound data)")
        self.stdout.write(f"{user.email}: {shown}")
