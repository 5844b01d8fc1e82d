"""Typed readers for environment variables.

Every reader fails loudly with ``ImproperlyConfigured`` naming the variable, so a bad deployment stops at
start-up instead of misbehaving later. A secret ``X`` may also be given as a file path in ``X_FILE``
(Docker/Kubernetes secrets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path!r}: {exc.strerror}") from exc
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} is required but not set")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_decimal(name: str, default: str) -> Decimal:
    """A non-negative decimal amount (money settings are never floats)."""
    raw = env_str(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal amount, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative amount, got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[IPv4Network | IPv6Network]:
    """Comma-separated CIDR networks (``10.0.0.0/8,::1/128``)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ip_network(item))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be CIDR networks, got {item!r}") from None
    return networks


def env_database(name: str = "DATABASE_URL", *, pool_size: int | None = None) -> dict[str, Any]:
    """Django's ``DATABASES`` entry for a postgres:// URL.

    ``pool_size`` None: persistent connections (``CONN_MAX_AGE`` 60 s), one per thread, for processes whose
    threads live long (WSGI workers, Celery). Otherwise ``CONN_MAX_AGE`` 0, each connection is given back when its
    request or ``database_sync_to_async`` call ends: to a psycopg pool of at most ``pool_size`` connections
    (Django's ``OPTIONS["pool"]``), or, with 0, closed.
    """
    raw = env_str(name)
    if not raw.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL (SQLite is not supported), got {raw!r}")
    try:
        config = dict(dj_database_url.parse(raw, conn_max_age=60 if pool_size is None else 0,
                                            conn_health_checks=True))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database, got {raw!r}")
    if pool_size:
        options = cast(dict[str, Any], config.get("OPTIONS") or {})
        config["OPTIONS"] = {**options, "pool": {"min_size": 1, "max_size": pool_size}}
    return config


def database_url(config: Mapping[str, Any]) -> str:
    """The ``postgres://`` URL of a Django database setting (``settings.DATABASES[alias]``) that ``env_database``
    reads back as the same server, user, database and options: for a process started on the same database (a
    test's Daphne or Celery worker on the test database, a benchmark's database).

    Every part is percent-encoded. The embedded PostgreSQL's host is a unix-socket folder (config/devservices.py):
    unencoded, its first slash would end the host and the rest become the database name.
    """
    host = str(config.get("HOST") or "")
    ipv6 = ":" in host and not host.startswith("/")
    host = f"[{host}]" if ipv6 else quote(host, safe="")
    auth = quote(str(config.get("USER") or ""), safe="")
    if config.get("PASSWORD"):
        auth += ":" + quote(str(config["PASSWORD"]), safe="")
    port = f":{config['PORT']}" if config.get("PORT") else ""
    options = dict(config.get("OPTIONS") or {})
    for key, value in options.items():
        if not isinstance(value, str | int):  # bool is an int; dj-database-url reads "True"/"1" back
            raise ValueError(f"database option {key}={value!r} cannot be written in a URL")
    query = f"?{urlencode(options, quote_via=quote)}" if options else ""  # a space as %20: dj-database-url keeps a "+"
    return f"postgres://{auth + '@' if auth else ''}{host}{port}/{quote(str(config['NAME']), safe='')}{query}"


def env_redis_url(name: str = "REDIS_URL") -> str:
    raw = env_str(name)
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, got {raw!r}")
    return raw


def map_tile_origins(url: str) -> list[str]:
    """The CSP source of an XYZ tile URL: its scheme and host; a ``{s}`` subdomain placeholder becomes ``*.``.

    >>> map_tile_origins("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    ['https://*.tile.example.org']
    """
    if not url:
        return []
    parsed = urlsplit(url.replace("{s}.", "x-placeholder."))
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ImproperlyConfigured(f"MAP_TILE_URL must be an http(s) URL with {{z}}/{{x}}/{{y}}, got {url!r}")
    if not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ImproperlyConfigured(f"MAP_TILE_URL must contain {{z}}, {{x}} and {{y}}, got {url!r}")
    host = parsed.netloc.replace("x-placeholder.", "*.")
    return [f"{parsed.scheme}://{host}"]
