"""Throttles of the auth endpoints; counters live in the default cache (Redis)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from accounts.phone import phone_normalize
from core.clientip import client_ip


class AuthThrottle(ScopedRateThrottle):
    """Per caller (user id, else client IP) with the view's ``throttle_scope`` ("auth", "otp", "otp_verify")."""

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


class PhoneThrottle(SimpleRateThrottle):
    """Per phone number at the "otp" rate, whatever the IP: limits SMS pumping to one number.

    Only sending a code is counted here. Guessing is bounded per number by the code itself (a few wrong tries
    burn it, and each new code costs a send); a per-number budget for guesses would let anyone spend the owner's
    budget and lock them out of signing in.
    """

    scope = "otp"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        raw = request.data.get("phone") if hasattr(request.data, "get") else None
        if not isinstance(raw, str):
            return None
        try:
            phone = phone_normalize(raw)
        except ValueError:
            return None  # the view answers 400
        return self.cache_format % {"scope": f"{self.scope}-phone", "ident": phone}
