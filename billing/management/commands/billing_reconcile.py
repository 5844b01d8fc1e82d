from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Recompute ledger balances from entries; exit non-zero when a cached balance disagrees."

    def handle(self, *args: Any, **options: Any) -> None:
        from billing.services import reconcile  # here: the parser (--help) loads without the app registry

        mismatches = reconcile.ledger_reconcile()
        for m in mismatches:
            self.stderr.write(f"MISMATCH {m.account}: cached {m.cached} != entries {m.from_entries}")
        if mismatches:
            raise CommandError(f"{len(mismatches)} ledger mismatch(es)")
        self.stdout.write(self.style.SUCCESS("ledger reconciled: every cached balance matches its entries"))
