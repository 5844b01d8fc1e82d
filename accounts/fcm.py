"""Firebase Cloud Messaging HTTP v1 (``PUSH_BACKEND=accounts.fcm.FcmPushBackend``): Android, and iOS through the
APNs key uploaded to the Firebase project.

google-auth signs the service account's OAuth2 token request (at the ``token_uri`` of the credentials file) and
keeps the token until it expires; the v1 ``messages:send`` call is one JSON POST to ``FCM_ENDPOINT``. The FCM
error (``google.firebase.fcm.v1.FcmError``) says what became of the token (docs/accounts.md "Push notifications").
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from accounts.push import PushBackend, PushMessage, PushRejected, PushTokenInvalid, PushTransientError

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# The token is gone or not ours: the app was uninstalled, the token rotated, or it belongs to another project.
_TOKEN_GONE = {"UNREGISTERED", "SENDER_ID_MISMATCH"}
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}

_lock = threading.Lock()
_sessions: dict[tuple[str, str], tuple[AuthorizedSession, str]] = {}


def _session() -> tuple[AuthorizedSession, str]:
    """One authorised session per process and credentials: its access token is reused until it expires."""
    key = (settings.FCM_CREDENTIALS_FILE, settings.FCM_PROJECT_ID)
    with _lock:
        if key not in _sessions:
            credentials = service_account.Credentials.from_service_account_file(
                settings.FCM_CREDENTIALS_FILE, scopes=[SCOPE])
            project = settings.FCM_PROJECT_ID or credentials.project_id
            _sessions[key] = (AuthorizedSession(credentials), project)
        return _sessions[key]


def message_json(message: PushMessage) -> dict[str, Any]:
    """The v1 ``message``: shown in the tray on both platforms; ``data`` carries the ids the app opens."""
    data = {"notification_id": str(message.notification_id), "kind": message.kind,
            "data": json.dumps(message.data, separators=(",", ":"))}  # FCM data values must be strings
    android: dict[str, Any] = {"priority": "HIGH" if message.urgent else "NORMAL"}
    apns_headers = {"apns-priority": "10" if message.urgent else "5"}
    if message.expires_at is not None:
        seconds = max(0, int((message.expires_at - datetime.now(UTC)).total_seconds()))
        android["ttl"] = f"{seconds}s"
        apns_headers["apns-expiration"] = str(int(message.expires_at.timestamp()))
    return {"token": message.token, "notification": {"title": message.title, "body": message.body},
            "data": data, "android": android,
            "apns": {"headers": apns_headers, "payload": {"aps": {"sound": "default"}}}}


def _retry_after_s(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    if raw.strip().isdigit():
        return float(raw)
    try:
        return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _raise_for(response: requests.Response) -> None:
    """Turn an FCM error response into the PushError that says what to do."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    details = error.get("details") or []
    fcm_code = next((d.get("errorCode") for d in details if d.get("@type") == FCM_ERROR_TYPE), None)
    status_name = fcm_code or error.get("status") or str(response.status_code)
    text = f"HTTP {response.status_code} {status_name}: {str(error.get('message', ''))[:200]}"
    if fcm_code in _TOKEN_GONE:
        raise PushTokenInvalid(text)
    if status_name == "INVALID_ARGUMENT":
        fields = {v.get("field") for d in details if d.get("@type") == BAD_REQUEST_TYPE
                  for v in d.get("fieldViolations") or []}
        if "message.token" in fields:  # a token that was never valid; any other field is our bug: not retried
            raise PushTokenInvalid(text)
    if response.status_code in _TRANSIENT_STATUS:
        raise PushTransientError(text, retry_after_s=_retry_after_s(response))
    raise PushRejected(text)


class FcmPushBackend(PushBackend):
    def send(self, *, message: PushMessage) -> None:
        session, project = _session()
        url = f"{settings.FCM_ENDPOINT}/v1/projects/{project}/messages:send"
        try:
            response = session.post(url, json={"message": message_json(message)}, timeout=settings.FCM_TIMEOUT_S)
        except requests.RequestException as exc:
            raise PushTransientError(f"{type(exc).__name__}: {exc}") from exc
        except google_exceptions.RefreshError as exc:  # the OAuth2 token request failed
            if exc.retryable:
                raise PushTransientError(f"access token: {exc}") from exc
            raise PushRejected(f"access token refused: {exc}") from exc
        except google_exceptions.TransportError as exc:
            raise PushTransientError(f"access token: {exc}") from exc
        if response.status_code != 200:
            _raise_for(response)

    @classmethod
    def configuration_errors(cls) -> list[str]:
        path = settings.FCM_CREDENTIALS_FILE
        if not path:
            return ["FCM_CREDENTIALS_FILE is required with PUSH_BACKEND=accounts.fcm.FcmPushBackend"]
        try:
            info = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            return [f"FCM_CREDENTIALS_FILE={path!r} is no readable service account JSON: {exc}"]
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if missing:
            return [f"FCM_CREDENTIALS_FILE={path!r} is no service account key (missing {', '.join(missing)})"]
        if not (settings.FCM_PROJECT_ID or info.get("project_id")):
            return ["FCM_PROJECT_ID is required: the credentials file names no project_id"]
        return []
