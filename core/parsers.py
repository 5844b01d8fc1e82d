"""Reading untrusted JSON: one decoder for every request body and socket message.

``json.loads`` recurses once per nesting level, so a body of 100,000 ``[`` raises ``RecursionError`` (a 500)
instead of a parse error; it also reads a body of any size from the stream. orjson refuses nesting deeper than
1,024 levels with an ordinary ``JSONDecodeError`` before it goes deeper, and refuses NaN and Infinity as DRF's
strict JSON does. The DRF parser also stops reading at ``DATA_UPLOAD_MAX_MEMORY_SIZE``, the limit Django applies
to ``request.body`` (413 ``request_too_large``). docs/security.md "Input limits".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Modules, not names: DRF imports this module (DEFAULT_PARSER_CLASSES) while core.errors is half-initialised.
from core import errors

JSON_MAX_DEPTH = 1024  # orjson's own limit; documented, not configurable


def json_loads(data: bytes | str) -> Any:
    """Decode JSON from an untrusted source; ``ValueError`` (``orjson.JSONDecodeError``) for anything refused."""
    return orjson.loads(data)


def body_limit() -> int | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


class JSONParser(parsers.JSONParser):
    """DRF's ``DEFAULT_PARSER_CLASSES`` JSON parser: bounded in size and depth, errors in the API's envelope."""

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = body_limit()
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise errors.RequestTooLarge(limit_bytes=limit)
        try:
            return json_loads(data)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser with ``UPLOAD_MAX_BYTES`` enforced per file while the body is read (413
    ``upload_too_large``); what the file contains is checked by the service (``core.uploads.image_clean``)."""

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        from core import uploads  # here, not above: it needs core.errors complete (see the imports)

        request = (parser_context or {})["request"]
        if not any(isinstance(handler, uploads.LimitedUploadHandler) for handler in request.upload_handlers):
            request.upload_handlers.insert(0, uploads.LimitedUploadHandler(request))  # Django's documented way
        return super().parse(stream, media_type, parser_context)
