"""Stand-ins for the operator's own SMS and push classes in the production environment of test_production.py.

Freewheel ships no real SMS or push provider (docs/accounts.md): a deployment names its own subclass."""

from __future__ import annotations

from accounts.push import PushBackend, PushMessage
from accounts.sms import SmsBackend


class OperatorSms(SmsBackend):
    def send(self, *, to: str, body: str) -> None:
        raise NotImplementedError("never called: the check only imports it")


class OperatorPush(PushBackend):
    def send(self, *, message: PushMessage) -> None:
        raise NotImplementedError("never called: the check only imports it")
