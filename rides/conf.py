"""Rides settings read from the environment once (documented in docs/rides.md); tests monkeypatch them."""

from __future__ import annotations

from config.env import env_int

# An unlock that is not acknowledged within this many seconds cancels the ride (nothing charged).
UNLOCK_TTL_S = env_int("RIDES_UNLOCK_TTL_S", 60, minimum=5)
# A lock (end) that is not acknowledged within this many seconds puts the ride back to active.
LOCK_TTL_S = env_int("RIDES_LOCK_TTL_S", 60, minimum=5)
# Points kept in the simplified GeoJSON track of a ride's detail (Douglas-Peucker tolerance in metres).
TRACK_SIMPLIFY_M = env_int("RIDES_TRACK_SIMPLIFY_M", 5, minimum=0)
