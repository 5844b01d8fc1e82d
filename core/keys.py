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

