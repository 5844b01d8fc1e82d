"""Stand-ins for the operator's own SMS and push classes in the production environment of test_production.py.

Freewheel ships no real SMS or push provider (docs/accounts.md): a deployment names its own subclass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.push import PushBackend
from accounts.sms import SmsBackend

if TYPE_CHECKING:
    from accounts.models import Notification


class OperatorSms(SmsBackend):
    def send(self, *, to: str, body: str) -> None:
        raise NotImplementedError("never called: the check only imports it")


class OperatorPush(PushBackend):
    def send(self, *, notification: Notification) -> None:
        raise NotImplementedError("never called: the check only imports it")
