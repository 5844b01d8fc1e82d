"""Pluggable SMS sending. ``settings.SMS_BACKEND`` is the dotted path of a ``SmsBackend`` subclass.

Shipped: ``ConsoleSmsBackend`` (development: logs the message) and ``LocmemSmsBackend`` (tests: keeps the
messages in ``accounts.sms.outbox``). A production backend (Twilio, MessageBird, ...) implements ``send``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sms:
    to: str
    body: str


outbox: list[Sms] = []


class SmsBackend:
    def send(self, *, to: str, body: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    def send(self, *, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)


class LocmemSmsBackend(SmsBackend):
    def send(self, *, to: str, body: str) -> None:
        outbox.append(Sms(to=to, body=body))


def sms_send(*, to: str, body: str) -> None:
    backend_class: type[SmsBackend] = import_string(settings.SMS_BACKEND)
    backend_class().send(to=to, body=body)
