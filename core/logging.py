"""Logging filters configured in ``LOGGING`` (config/settings.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class DropResponses(logging.Filter):
    """On the ``django.request`` logger: drop the line Django writes for a response with one of ``statuses`` from
    one of the views named ``url_names``, because that view logs those answers itself.

    Django logs every 5xx answer at ERROR (``django.utils.log.log_response``), with the documented extra context
    ``status_code`` and ``request``; the telemetry edge's 503s are expected refusals (backpressure, Redis away),
    counted and logged once per interval by ``telemetry.refusals``. An unhandled exception is a 500 and stays.
    """

    def __init__(self, statuses: Iterable[int] = (), url_names: Iterable[str] = ()) -> None:
        super().__init__()
        self.statuses, self.url_names = frozenset(statuses), frozenset(url_names)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) not in self.statuses:
            return True
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        return match is None or match.view_name not in self.url_names
