"""Idempotency and cache keys built from variable parts, with a length that does not depend on the parts.

A key such as ``telemetry:speed:<vehicle>:<zone>:<seq>`` grows with its input and, past its column's length, makes
the INSERT fail. ``digest_key`` keeps a readable prefix (where the key comes from) and replaces the variable parts
by their SHA-256: the same parts give the same key, different parts different keys.
"""

from __future__ import annotations

import hashlib
import json


def digest_key(prefix: str, *parts: object) -> str:
    """``<prefix>:<SHA-256 of the parts, hex>``, ``len(prefix) + 65`` characters whatever the parts.

    The parts are hashed as a JSON list of their ``str()``, so ``("a:b", "c")`` and ``("a", "b:c")`` differ; a
    UUID and its string, or an int and its decimal string, are the same part.
    """
    encoded = json.dumps([str(part) for part in parts], separators=(",", ":")).encode()
    return f"{prefix}:{hashlib.sha256(encoded).hexdigest()}"



def bounded_key(key: str, *, max_length: int) -> str:
    """``key`` itself when it fits in ``max_length`` (readable, and the key stored before for the same input), else
    its head and the SHA-256 of the whole key: ``<head>#<64 hex>``, exactly ``max_length`` characters. For keys
    that must stay equal to the ones already stored (a ledger entry's), built from input that is short in practice
    but has no length limit (a payment provider's object ids, up to 255 characters)."""
    if len(key) <= max_length:
        return key
    if max_length < 65:
        raise ValueError("max_length must leave room for a SHA-256")
    return f"{key[: max_length - 65]}#{hashlib.sha256(key.encode()).hexdigest()}"
