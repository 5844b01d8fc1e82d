"""The base of every MDS Provider view: agency authentication, city scope, MDS content negotiation and errors,
the ``version`` in every body, and the audit log of every pull.

A subclass implements ``get`` and answers with ``self.answer({...})`` (a JSON body; ``version`` is added), or
``self.stream(...)`` for big answers (constant memory). Either way it sets ``self.rows`` to the number of records
sent, for the audit log. In ``get``, ``self.scope`` holds the cities the answer may cover (``scope.Scope``) and
``self.caller`` the agency (``auth.AgencyCaller``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from django.http import HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from feeds.mds import audit, auth, errors, renderers
from feeds.mds import scope as mds_scope
from feeds.mds.schema import MdsAutoSchema

# How many records one chunk of a streamed answer carries: big enough that the per-chunk cost vanishes, small
# enough that memory stays flat whatever the hour holds.
STREAM_CHUNK_RECORDS = 2000


class MdsView(APIView):
    authentication_classes: ClassVar[list[type]] = [auth.AgencyAuthentication]  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = [auth.IsAgency]  # type: ignore[misc]
    renderer_classes: ClassVar[list[type]] = [renderers.MdsJSONRenderer]  # type: ignore[misc]
    parser_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    throttle_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    content_negotiation_class = renderers.MdsContentNegotiation
    schema = MdsAutoSchema()
    # DomainErrors the operation answers with, for OpenAPI (core.schema.AutoSchema); subclasses extend it.
    domain_errors: ClassVar[tuple[type[DomainError], ...]] = (
        errors.VersionNotAcceptable, errors.NoCityInScope, errors.CityNotFound, errors.ParamInvalid,
    )

    caller: auth.AgencyCaller | None
    scope: mds_scope.Scope | None
    rows: int | None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._started, self._at = time.perf_counter(), timezone.now()
        self.caller, self.scope, self.rows = None, None, None
        # Authentication before DRF's content negotiation: a refused version (406) is logged with its agency, and a
        # caller without a valid token learns nothing else (401 first). DRF authenticates once per request; the
        # permission check is a type check, cheap to repeat in super().initial().
        self.perform_authentication(request)
        self.check_permissions(request)
        super().initial(request, *args, **kwargs)
        assert self.caller is not None  # IsAgency
        self.scope = mds_scope.resolve(request=request, caller=self.caller)

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if isinstance(request.user, auth.AgencyCaller):
            self.caller = request.user

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return errors.exception_handler

    @property
    def city_ids(self) -> list[uuid.UUID]:
        """The ids of the cities this answer may cover: pass them to every selector."""
        assert self.scope is not None
        return self.scope.city_ids

    def answer(self, payload: dict[str, Any], *, rows: int | None = None, status: int = 200) -> Response:
        """A JSON answer (``version`` first); ``rows``: the records it holds, for the audit log."""
        self.rows = rows
        return Response(renderers.with_version(payload), status=status)

    def stream(self, key: str, records: Iterable[dict[str, Any]], **head: Any) -> StreamingHttpResponse:
        """A streamed JSON answer ``{"version", **head, key: [records...]}``, written ``STREAM_CHUNK_RECORDS`` at a
        time: memory stays flat however many records ``records`` (a server-side cursor) yields. The audit row is
        written when the stream ends: after the last byte, or when the client goes away (Django closes it)."""
        self.rows = 0
        return StreamingHttpResponse(self._audited(self._chunks(key, records, head)),
                                     content_type=renderers.MEDIA_TYPE)

    def _chunks(self, key: str, records: Iterable[dict[str, Any]], head: dict[str, Any]) -> Iterator[bytes]:
        opening = renderers.dumps(renderers.with_version({**head, key: []}))
        yield opening[:-2]  # '{..., "key":[' without the closing ']}'
        batch: list[bytes] = []
        separator = b""
        try:
            for record in records:
                batch.append(renderers.dumps(record))
                if len(batch) == STREAM_CHUNK_RECORDS:
                    self.rows = (self.rows or 0) + len(batch)  # counted as sent once handed to the server
                    yield separator + b",".join(batch)
                    separator = b","
                    batch = []
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # a server-side cursor is released now, not when the garbage collector finds it
        if batch:
            self.rows = (self.rows or 0) + len(batch)
            yield separator + b",".join(batch)
        yield b"]}"

    def _audited(self, content: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from content  # closing this generator closes ``content`` too
        finally:
            self._audit(self.request, 200)

    def finalize_response(self, request: Request, response: HttpResponseBase, *args: Any,  # type: ignore[override]
                          **kwargs: Any) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        patch_vary_headers(response, ["Accept", "Authorization"])  # the answer depends on both (406, scope)
        if not isinstance(response, StreamingHttpResponse):  # a stream is audited when it ends (_audited)
            error = ""
            if response.status_code >= 400 and isinstance(getattr(response, "data", None), dict):
                error = str(response.data.get("error", ""))  # type: ignore[attr-defined]
            self._audit(request, response.status_code, error=error)
        return response

    def _audit(self, request: Request, status: int, *, error: str = "") -> None:
        started = getattr(self, "_started", None)
        caller: auth.AgencyCaller | None = getattr(self, "caller", None)
        current_scope: mds_scope.Scope | None = getattr(self, "scope", None)
        audit.pull_record(
            request=request, at=getattr(self, "_at", None) or timezone.now(),
            duration_ms=0 if started is None else round((time.perf_counter() - started) * 1000),
            status=status, error=error, rows=getattr(self, "rows", None) if status < 400 else None,
            agency=caller.agency if caller else None, credential=caller.credential if caller else None,
            city_slugs=current_scope.city_slugs if current_scope else (),
        )


class MdsNotFoundView(MdsView):
    """Every other path under ``/mds/``: an agency gets MDS's error shape (and the pull is logged), not HTML."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise errors.PathNotFound(error_details=[request.path])
