"""GBFS endpoints: plain Django views serving pre-rendered bytes (``feeds.gbfs.cache``).

Not DRF views: the contract is the GBFS specification (not our OpenAPI schema), the files are public (no
authentication, no throttling), and a cache hit should cost the request only a dictionary lookup. Each response
carries ``Cache-Control: public, max-age=<seconds left of its ttl>``, a weak ``ETag`` and ``Last-Modified`` (304
on a match), the gzip bytes rendered once with the file when the client accepts gzip, and
``Access-Control-Allow-Origin: *`` (web maps read feeds from browsers).
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe

from core.errors import error_body
from feeds.gbfs import cache, selectors, v2

NOT_FOUND_TTL = 60


def _base_url(request: HttpRequest) -> str:
    return settings.GBFS_BASE_URL or f"{request.scheme}://{request.get_host()}"


def _not_found(message: str) -> cache.Rendered:
    return cache.build(error_body("not_found", message), ttl=NOT_FOUND_TTL, status=404)


LINKED = {"gbfs", "gbfs_versions", "system_information"}  # files with links: one copy per URL base


def _key(base_url: str, *parts: str) -> str:
    base = hashlib.blake2b(base_url.encode(), digest_size=6).hexdigest()
    return ":".join(("gbfs", base, *parts))


def _render_file(base_url: str, prefix: str, system_id: str, name: str) -> cache.Rendered:
    system = selectors.system_get(system_id=system_id)
    if system is None:
        return _not_found(f"No GBFS system {system_id!r}.")
    feed = selectors.Feed(system=system, base_url=base_url, now=datetime.now(UTC).replace(microsecond=0),
                          prefix=prefix)
    if prefix == "v3":
        return cache.build(selectors.document(feed, name), ttl=selectors.TTL[name])
    document = selectors.document(feed, v2.V3_NAME.get(name, name))
    return cache.build(v2.convert(name, document, feed.languages[0]), ttl=selectors.TTL[v2.V3_NAME.get(name, name)])


def _names(prefix: str) -> set[str]:
    names = {"gbfs", *selectors.FILES}
    return names if prefix == "v3" else {selectors.V2_NAMES.get(name, name) for name in names}


@require_safe
def manifest(request: HttpRequest) -> HttpResponseBase:
    base_url = _base_url(request)
    ttl = selectors.TTL["manifest"]

    def render() -> cache.Rendered:
        return cache.build(selectors.manifest(base_url=base_url, now=datetime.now(UTC)), ttl=ttl)

    return _respond(request, cache.get_or_render(_key(base_url, "manifest"), ttl, render))


@require_safe
def feed_file(request: HttpRequest, prefix: str, system_id: str, name: str) -> HttpResponseBase:
    if name not in _names(prefix):
        return _respond(request, _not_found(f"No GBFS file {name!r} in {selectors.VERSIONS[prefix]}."))
    base_url = _base_url(request)
    ttl = selectors.TTL[v2.V3_NAME.get(name, name)]
    key = _key(base_url if name in LINKED else "", prefix, system_id, name)
    return _respond(request, cache.get_or_render(key, ttl, lambda: _render_file(base_url, prefix, system_id, name)))


def _not_modified(request: HttpRequest, rendered: cache.Rendered) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:  # it takes precedence over If-Modified-Since (RFC 9110 13.2.2)
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or rendered.etag.removeprefix("W/") in tags
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and rendered.rendered_at <= since


def _respond(request: HttpRequest, rendered: cache.Rendered) -> HttpResponse:
    now = time.time()
    headers = {
        "Cache-Control": f"public, max-age={rendered.max_age(now)}", "ETag": rendered.etag,
        "Last-Modified": http_date(rendered.rendered_at), "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
    }
    if rendered.status == 200 and _not_modified(request, rendered):
        return HttpResponse(status=304, headers=headers)
    body = rendered.body
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body, headers["Content-Encoding"] = rendered.gzipped, "gzip"
    return HttpResponse(body, status=rendered.status, content_type="application/json", headers=headers)
