"""The audit log of MDS pulls: one ``MdsPull`` row per request to ``/mds/``, refused ones included.

Written by ``MdsView.finalize_response`` when the answer is complete, or when a streamed answer ends (its last
byte sent, or the client gone), so ``rows`` and ``duration_ms`` describe what was actually sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from core.clientip import client_ip
from feeds.models import Agency, AgencyCredential, MdsPull


def _text(value: str) -> str:
    """PostgreSQL text and jsonb refuse NUL: a request that carries one is logged with U+FFFD in its place."""
    return value.replace("\x00", "\ufffd")


def _params(request: HttpRequest) -> dict[str, Any]:
    return {_text(key): _text(values[0]) if len(values) == 1 else [_text(value) for value in values]
            for key, values in request.GET.lists()}


def pull_record(*, request: HttpRequest, at: datetime, duration_ms: int, status: int,
                agency: Agency | None = None, credential: AgencyCredential | None = None,
                city_slugs: Sequence[str] = (), rows: int | None = None, error: str = "") -> MdsPull:
    """Append one pull to the log (its own statement: the MDS views are read-only and run in autocommit)."""
    return MdsPull.objects.create(
        at=at, agency=agency, credential=credential, client_ip=client_ip(request) or None,
        method=request.method or "GET", path=_text(request.path)[:255], params=_params(request),
        city_slugs=",".join(city_slugs)[:255], status=status, error=error[:64], rows=rows,
        duration_ms=max(0, duration_ms),
    )
