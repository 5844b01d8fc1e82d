"""Phone numbers: validated with Google's libphonenumber data (phonenumberslite) and stored in E.164."""

from __future__ import annotations

from typing import Any

import phonenumbers
from rest_framework import serializers


def phone_normalize(raw: str) -> str:
    """Return ``raw`` as E.164 (``+4915112345678``); raise ``ValueError`` when it is not a valid number.

    Only international form is accepted (a leading ``+``): the API has no notion of a caller's home region.
    """
    text = raw.strip()
    if not text.startswith("+"):
        raise ValueError("Phone numbers must be in international E.164 form, e.g. +4915112345678.")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("This is not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("This phone number is not valid.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_form(raw: str, *, region: str) -> str | None:
    """A phone number typed in any usual form as E.164, for searching: international (``+49 151 ...``,
    ``0049 151 ...``) or national in ``region`` (``015100000001`` in DE); ``None`` when ``raw`` is no possible
    number. Lenient on purpose (a possible number, not a valid one): a search must find what was stored."""
    text = raw.strip()
    if sum(ch.isdigit() for ch in text) < 6 or any(ch.isalpha() for ch in text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_masked(e164: str) -> str:
    """What may be shown of a number: ``+49 151 •••• 5678``, i.e. the country code, the last four digits, and the
    first three of the national number only when at least four digits stay hidden; ``""`` for no number."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
        country, national = f"+{number.country_code}", str(number.national_number)
    except phonenumbers.NumberParseException:
        country, national = "", "".join(ch for ch in e164 if ch.isdigit())
    head = national[:3] if len(national) >= 11 else ""
    return " ".join(part for part in (country, head, "••••", national[-4:]) if part)


class PhoneField(serializers.CharField):
    """A serializer field that accepts an international number and yields it in E.164."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if text == "":
            return text
        try:
            return phone_normalize(text)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid_phone") from exc
