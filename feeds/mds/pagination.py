"""JSON:API pagination links of the paginated MDS endpoints (``/vehicles``, ``/vehicles/status``, ``/events/recent``).

MDS provider/README.md "Pagination": ``links`` with ``first`` / ``last`` / ``prev`` / ``next``, ``next`` always
present and ``null`` on the last page. Pages are keyset pages (``WHERE key > last key ORDER BY key``): O(1) per
page and stable while rows change. ``links`` carries ``first`` and ``next``; ``prev`` and ``last`` are left out (a
keyset page cannot name them cheaply, and MDS asks only for ``next``).

Query parameters: ``cursor`` (opaque, from a ``next`` link) and ``limit`` (page size, default ``DEFAULT_LIMIT``,
at most ``MAX_LIMIT``). Any other parameter (``city``, a time range) is kept in the links.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from rest_framework.request import Request

from feeds.mds import errors

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000

def encode_cursor(key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> list[str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.ParamInvalid("The cursor is not one this server issued.", error_details=["cursor"]) from None
    if not isinstance(key, list) or not all(isinstance(part, str) for part in key):
        raise errors.ParamInvalid("The cursor is not one this server issued.", error_details=["cursor"])
    return key


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise errors.ParamInvalid(f"limit must be an integer from 1 to {MAX_LIMIT}.", error_details=["limit"])
    return int(raw)


def _url(request: Request, cursor: str | None) -> str:
    params = [(k, v) for k, values in request.query_params.lists() if k != "cursor" for v in values]
    if cursor is not None:
        params.append(("cursor", cursor))
    query = urlencode(params)
    return request.build_absolute_uri(request.path + (f"?{query}" if query else ""))


def links(request: Request, next_key: Sequence[str] | None) -> dict[str, str | None]:
    return {"first": _url(request, None), "next": None if next_key is None else _url(request, encode_cursor(next_key))}


def paginate[K, T](request: Request, *, fetch: Callable[[K | None, int], Sequence[T]],
             key: Callable[[T], Sequence[str]], decode: Callable[[list[str]], K]) -> tuple[list[T], dict[str, str | None]]:
    """One keyset page and its links.

    ``fetch(after, n)`` returns up to ``n`` rows ordered by their key, after the key ``after`` (``None``: from the
    start); ``key(row)`` is a row's key as strings (what the cursor carries); ``decode(parts)`` turns those strings
    back into ``after`` and raises ``ValueError`` for a cursor that does not fit (400 ``bad_param``).
    """
    limit = _limit(request)
    raw = request.query_params.get("cursor")
    after = None
    if raw is not None:
        try:
            after = decode(_decode_cursor(raw))
        except (ValueError, TypeError, IndexError):
            raise errors.ParamInvalid("The cursor is not one this server issued.", error_details=["cursor"]) from None
    rows = list(fetch(after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, links(request, key(rows[-1]) if more and rows else None)
