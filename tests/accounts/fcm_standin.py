"""A local stand-in for Firebase Cloud Messaging HTTP v1 and Google's OAuth2 token endpoint, in a thread.

It speaks the real wire format: the token endpoint checks the service account's signed JWT assertion (RS256,
audience, scope) and hands out a bearer token; ``POST /v1/projects/<project>/messages:send`` checks that token,
records the message, and answers 200 ``{"name": ...}`` or the error queued for the message's device token
(``fail``), with FCM's error body (``google.firebase.fcm.v1.FcmError``) and any header (``Retry-After``).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# A service account's assertion names Google's token endpoint as its audience, wherever it is sent.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FcmStandIn:
    def __init__(self, tmp_path: Path, project: str = "freewheel-test") -> None:
        self.project = project
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = key.public_key()
        self.access_token = "ya29.standin-" + secrets.token_hex(8)
        self.token_requests: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # {"project", "authorization", "message"}
        self.replies: dict[str, list[Reply]] = {}  # device token -> replies queued for its next messages
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.credentials_file = tmp_path / "service-account.json"
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        self.credentials_file.write_text(json.dumps({
            "type": "service_account", "project_id": project, "private_key_id": secrets.token_hex(20),
            "private_key": pem, "client_email": f"push@{project}.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": f"{self.url}/token",
        }))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FcmStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what the test says -------------------------------------------------------------------------------
    def fail(self, token: str, status: int, error_code: str | None = None, *, headers: dict[str, str] | None = None,
             field_violation: str | None = None) -> None:
        """Answer the next message to ``token`` with an FCM error."""
        details: list[dict[str, Any]] = []
        if error_code:
            details.append({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code})
        if field_violation:
            details.append({"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": field_violation, "description": "Invalid value"}]})
        body = {"error": {"code": status, "message": f"stand-in {error_code or status}",
                          "status": STATUS_NAMES.get(status, "UNKNOWN"), "details": details}}
        self.replies.setdefault(token, []).append(Reply(status, body, headers or {}))

    def messages_to(self, token: str) -> list[dict[str, Any]]:
        return [s["message"] for s in self.sent if s["message"].get("token") == token]

    # --- the server -----------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, reply: Reply) -> None:
                payload = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    self._answer(standin._token(raw.decode()))
                elif match := SEND_PATH.match(self.path):
                    self._answer(standin._send(match.group(1), self.headers.get("Authorization", ""), raw))
                else:
                    self._answer(Reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}}))

        return Handler

    def _token(self, form: str) -> Reply:
        fields = {k: v[0] for k, v in parse_qs(form).items()}
        self.token_requests.append(fields)
        if fields.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Reply(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(fields.get("assertion", ""), self.public_key, algorithms=["RS256"],
                                audience=GOOGLE_TOKEN_AUDIENCE)
        except jwt.PyJWTError as exc:
            return Reply(400, {"error": "invalid_grant", "error_description": str(exc)})
        if "https://www.googleapis.com/auth/firebase.messaging" not in claims.get("scope", "").split():
            return Reply(400, {"error": "invalid_scope"})
        return Reply(200, {"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"})

    def _send(self, project: str, authorization: str, raw: bytes) -> Reply:
        if authorization != f"Bearer {self.access_token}":
            return Reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "no valid token"}})
        message = json.loads(raw)["message"]
        self.sent.append({"project": project, "authorization": authorization, "message": message})
        queued = self.replies.get(message.get("token", ""))
        if queued:
            return queued.pop(0)
        return Reply(200, {"name": f"projects/{project}/messages/{len(self.sent)}"})
