"""The Finance pages in a real browser, as a finance staff member: every page fits 1440 px, the ledger shows debit
and credit columns, the CSV button downloads the file, the mismatch banner shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from billing.models import ReconcileRun
from tests.billing.test_finance import _charge, _staff
from tests.console.test_dashboard import Day
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db(transaction=True)


def fits(page: Any) -> bool:
    """No horizontal scrollbar at 1440 px (docs/admin.md)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_finance_pages_fit_and_the_csv_downloads(admin_page: Any) -> None:
    Day(timezone.now())  # charged rides with a refund
    _charge(CityFactory.create(slug="fin-browser", name="Browser City", timezone="UTC"), net="2.68", vat="0.51")
    ReconcileRun.objects.create(night=datetime(2026, 1, 2, tzinfo=UTC).date(), started_at=timezone.now(),
                                finished_at=timezone.now(), mismatch_count=1,
                                mismatches=[{"account": "x", "cached": "1", "from_entries": "2", "difference": "1"}])
    page = admin_page(_staff("finance"))
    page.goto(f"{page.base_url}/admin/")
    page.get_by_role("link", name="Finance").first.click()
    page.wait_for_url("**/admin/finance/")
    assert page.get_by_role("alert").inner_text().startswith("Ledger mismatch")
    assert page.locator("section.finance-section h2", has_text="Browser City").count() == 1
    assert fits(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("revenue_")
    for tab in ("Ledger transactions", "Captures and refunds", "Debtors"):
        page.get_by_role("navigation", name="Finance reports").get_by_role("link", name=tab).click()
        page.wait_for_load_state()
        assert fits(page), tab
    page.get_by_role("navigation", name="Finance reports").get_by_role("link", name="Ledger transactions").click()
    headers = [h.strip().lower() for h in page.locator("table.finance-ledger thead th").all_inner_texts()]
    assert headers[-3:] == ["debit", "credit", "currency"]
    assert page.console_errors == []
