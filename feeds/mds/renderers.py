"""MDS content negotiation and JSON: ``Accept: application/vnd.mds+json;version=2.0`` in, the same media type out,
``"version": "2.0.0"`` in every body, timestamps as integer milliseconds since the epoch.

Versioning (MDS general-information.md "Versioning"): a client names the version it targets in ``Accept``. Only
2.0 is served. An ``Accept`` naming ``application/vnd.mds+json`` with another version (``1.2``, ``2.1``, a patch
version such as ``2.0.0``, or none that parses) is refused with 406 ``unsupported_version``; so is an ``Accept``
that admits no JSON at all (``text/html``). A request without ``Accept``, with ``*/*``, ``application/json`` or
``application/vnd.mds+json`` without a version gets 2.0: MDS's fallback for such requests is 0.2, which nobody
serves any more, and answering 2.0 (which the ``Content-Type`` and ``version`` say) is more useful than a 406.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from feeds.mds import errors

VERSION = "2.0.0"  # the body's "version" (major.minor.patch of the specification followed)
MEDIA_TYPE = "application/vnd.mds+json;version=2.0"
CSV_MEDIA_TYPE = "text/vnd.mds+csv;version=2.0"  # /reports (MDS: the CSV exception to the JSON media type)
_SERVED_VERSION = "2.0"
_DEFAULT_TYPES = {"*/*", "application/*", "application/json", "application/vnd.mds+json"}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def ms(moment: dt.datetime) -> int:
    """An MDS ``timestamp``: integer milliseconds since the Unix epoch (exact, no float rounding)."""
    return (moment - _EPOCH) // _MS


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return ms(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in an MDS body")


def dumps(data: Any) -> bytes:
    """MDS JSON: UUIDs as lowercase strings, datetimes as integer milliseconds (orjson, for the big feeds)."""
    return orjson.dumps(data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def with_version(data: Any) -> Any:
    if isinstance(data, dict) and "version" not in data:
        return {"version": VERSION, **data}
    return data


class MdsJSONRenderer(BaseRenderer):
    media_type = MEDIA_TYPE
    format = "mds"
    charset = None  # JSON is UTF-8 by definition; the media type carries the version parameter instead

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        if data is None:
            return b""
        return dumps(with_version(data))


def _parse_accept(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        if params.get("q", "1").strip() not in ("0", "0.0", "0.00", "0.000"):
            ranges.append((pieces[0].lower(), params))
    return ranges


def version_accepted(header: str | None) -> bool:
    """Whether an ``Accept`` header admits MDS 2.0 (see the module docstring)."""
    if not header or not header.strip():
        return True
    for media_type, params in _parse_accept(header):
        version = params.get("version")
        if media_type == "application/vnd.mds+json" and version is not None:
            if version == _SERVED_VERSION:
                return True
        elif media_type in _DEFAULT_TYPES:
            return True
    return False


class MdsContentNegotiation(BaseContentNegotiation):
    """Picks the MDS renderer when ``Accept`` admits 2.0, else 406 ``unsupported_version``."""

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        if not version_accepted(request.META.get("HTTP_ACCEPT")):
            raise errors.VersionNotAcceptable(accept=request.META.get("HTTP_ACCEPT", ""))
        renderer = next(iter(renderers))
        return renderer, renderer.media_type

    def select_parser(self, request: Request, parsers: Iterable[Any]) -> Any:
        return None  # the MDS Provider API takes no bodies
