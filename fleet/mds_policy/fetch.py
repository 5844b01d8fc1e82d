"""Read an MDS document from a file or a URL: a timeout, a size limit, and https only unless DEBUG."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from core.errors import DomainError

FETCH_TIMEOUT_S = 20
ACCEPT = "application/vnd.mds+json;version=2.0, application/json;q=0.9"


class PolicySourceUnreadable(DomainError):
    """The file or URL could not be read (missing, too large, refused scheme, HTTP error, timeout)."""

    code, status, message = "policy_source_unreadable", 400, "The MDS document could not be read."


def is_url(source: str) -> bool:
    return source.lower().startswith(("https://", "http://"))


def read_source(source: str, *, max_bytes: int, allow_http: bool) -> bytes:
    """The bytes of a local file or a URL (see ``fetch``)."""
    if is_url(source):
        return fetch(source, max_bytes=max_bytes, allow_http=allow_http)
    path = Path(source)
    try:
        if path.stat().st_size > max_bytes:
            raise PolicySourceUnreadable(f"{source}: larger than {max_bytes} bytes", source=source)
        return path.read_bytes()
    except OSError as exc:
        raise PolicySourceUnreadable(f"{source}: {exc.strerror or exc}", source=source) from exc


def read_upload(upload: IO[bytes], *, name: str, size: int | None, max_bytes: int) -> bytes:
    if size is not None and size > max_bytes:
        raise PolicySourceUnreadable(f"{name}: larger than {max_bytes} bytes", source=name)
    return upload.read()


def _checked_scheme(url: str, allow_http: bool) -> None:
    scheme = url.split(":", 1)[0].lower()
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise PolicySourceUnreadable(
            f"{url}: only https URLs are fetched" + ("" if allow_http else " (http only with DEBUG on)"), source=url,
        )


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs this import would fetch itself (no https -> http downgrade)."""

    def __init__(self, allow_http: bool) -> None:
        self.allow_http = allow_http

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        _checked_scheme(newurl, self.allow_http)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, *, max_bytes: int, allow_http: bool, timeout: float = FETCH_TIMEOUT_S) -> bytes:
    """GET ``url`` (an MDS ``/policies`` or ``/geographies`` endpoint or file); at most ``max_bytes`` are read."""
    _checked_scheme(url, allow_http)
    opener = urllib.request.build_opener(_Redirects(allow_http))
    # S310: the scheme was checked just above (https, or http with DEBUG) and is checked again on every redirect.
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "Freewheel MDS policy import"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise PolicySourceUnreadable(f"{url}: {declared} bytes, more than {max_bytes}", source=url)
            body: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise PolicySourceUnreadable(f"{url}: HTTP {exc.code} {exc.reason}", source=url, status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PolicySourceUnreadable(f"{url}: cannot fetch ({reason})", source=url) from exc
    if len(body) > max_bytes:
        raise PolicySourceUnreadable(f"{url}: more than {max_bytes} bytes", source=url)
    return body
