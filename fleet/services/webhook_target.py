"""Where an alert webhook may be sent (server-side request forgery guard), checked when an endpoint is saved and
again before every attempt (DNS may have changed since).

Refused: a scheme other than http(s), credentials in the URL (``user:pass@``), and a host any of whose addresses
(A and AAAA; an IPv4-mapped, 6to4 or NAT64 IPv6 address is judged by the IPv4 address inside it) is loopback,
private, shared (CGNAT), link-local (cloud metadata at 169.254.169.254), multicast, reserved, unspecified or
otherwise not globally routable. ``ALERT_WEBHOOK_ALLOW_PRIVATE`` (default: ``DEBUG``) lets loopback and private
addresses through, for a receiver on the same machine or network in development and tests; link-local,
multicast, reserved and unspecified addresses stay refused even then.

The POST goes to the very address that was checked (``post``): the connection is opened to it, with the URL's host
name in the ``Host`` header and for TLS (SNI and certificate check), so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot redirect it. Redirects are never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_RESPONSE_BYTES = 64 * 1024


class TargetRefused(Exception):
    """The URL may not be a webhook target; ``str(exc)`` says why, in words for the admin form."""


@dataclass(frozen=True, slots=True)
class Target:
    https: bool
    host: str
    port: int
    path: str  # path and query, at least "/"
    address: str  # the checked IP address the connection goes to


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host`` (A and AAAA), in the resolver's order. Tests replace this function."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why this address may not be a webhook target, or None when it may."""
    inner = _embedded_v4(ip)
    if inner is not None:  # an IPv4 address in IPv6 clothing is what it carries
        return address_refusal(inner, allow_private=allow_private)
    for test, name in ((ip.is_unspecified, "an unspecified"), (ip.is_multicast, "a multicast"),
                       (ip.is_link_local, "a link-local")):
        if test:
            return f"{ip} is {name} address"
    if ip.is_loopback:
        return None if allow_private else f"{ip} is a loopback address"
    if ip.is_reserved:  # (before private: Python counts 240.0.0.0/4 as private too)
        return f"{ip} is a reserved address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return None if allow_private else f"{ip} is a private address"
    if not ip.is_global and not allow_private:
        return f"{ip} is not a public address"
    return None


def check(url: str) -> Target:
    """The URL's target with a checked address to connect to; ``TargetRefused`` when it may not be one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Use an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("No user name or password in the URL: put a secret in the Secret field.")
    host = parts.hostname
    if not host:
        raise TargetRefused("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("The URL's port is not a number between 0 and 65535.") from None
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError):
            raise TargetRefused(f"The host {host} does not resolve.") from None
    if not addresses:
        raise TargetRefused(f"The host {host} does not resolve.")
    allow_private = settings.ALERT_WEBHOOK_ALLOW_PRIVATE
    for address in addresses:
        why = address_refusal(ipaddress.ip_address(address.split("%", 1)[0]), allow_private=allow_private)
        if why is not None:
            raise TargetRefused(f"Webhooks may only go to public addresses: {host} resolves to {why}.")
    path = parts.path or "/"
    return Target(https=parts.scheme == "https", host=host, port=port,
                  path=f"{path}?{parts.query}" if parts.query else path, address=addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address, whatever DNS says now; ``Host`` is still the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As ``_PinnedHTTP``, with TLS for the URL's host name (SNI, certificate and host name checked)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST ``body`` to the checked target; returns the HTTP status (redirects are not followed). Raises
    ``OSError`` / ``http.client.HTTPException`` on network failures."""
    connection = (_PinnedHTTPS if target.https else _PinnedHTTP)(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
