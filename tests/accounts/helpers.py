"""Small helpers shared by the accounts tests."""

from __future__ import annotations

from typing import Any


def error(response: Any) -> dict[str, Any]:
    """The error envelope's body, after checking its shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def code(response: Any) -> tuple[int, str]:
    return response.status_code, error(response)["code"]
