"""Notifications are written in the rider's language (Django's i18n, locale/de): the inbox and the push alike."""

from __future__ import annotations

import pytest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import PushDelivery
from accounts.services import notify, push_deliveries
from tests.accounts.push_fixtures import register

pytestmark = pytest.mark.django_db


def _lapse(rider):  # the texts rides sends when a reservation lapses (rides.services.reservations)
    return notify(user_id=rider.id, kind="reservation_expired", title=_("Your reservation expired"),
                  body=format_lazy(_("Vehicle {code} is free again."), code="FW-0042"))


def _push_of(notification, outbox):
    delivery = PushDelivery.objects.get(notification=notification)
    push_deliveries.push_delivery_attempt(delivery_id=delivery.id)
    return outbox[-1]


def test_a_german_rider_reads_german_in_the_inbox_and_on_the_phone(api, rider, locmem_push):
    rider.language = "de"
    rider.save()
    register(rider, locale="en-US")  # the rider's own choice wins over the app's
    notification = _lapse(rider)
    assert (notification.title, notification.body) == ("Deine Reservierung ist abgelaufen",
                                                       "Fahrzeug FW-0042 ist wieder frei.")
    message = _push_of(notification, locmem_push)
    assert (message.title, message.body) == ("Deine Reservierung ist abgelaufen", "Fahrzeug FW-0042 ist wieder frei.")
    inbox = api.as_(rider).get("/api/v1/me/notifications").json()["results"]
    assert inbox[0]["title"] == "Deine Reservierung ist abgelaufen"


def test_the_app_language_applies_when_the_rider_chose_none(rider, other_rider, locmem_push):
    register(rider, locale="de-AT")
    register(other_rider, locale="fr-FR")  # no French texts: the default language
    assert _lapse(rider).title == "Deine Reservierung ist abgelaufen"
    assert _lapse(other_rider).title == "Your reservation expired"


def test_the_language_is_set_through_the_preferences(api, rider, locmem_push):
    register(rider, locale="de-DE")
    api.as_(rider).patch("/api/v1/me/notification-preferences", {"language": "en"}, format="json")
    assert _lapse(rider).body == "Vehicle FW-0042 is free again."


def test_every_text_sent_to_riders_has_a_german_translation():
    """The catalogue covers the texts of the notifications the apps send (a new text needs `make messages`)."""
    from django.utils import translation

    texts = ["Your ride receipt", "Your ride cost {amount} {currency}. The itemised receipt is in the app.",
             "Your ride was ended by our team", "Your ride was ended automatically",
             "Your ride was cancelled before it started; nothing was charged.",
             "Your ride ended after {minutes} min.",
             "Your ride ended after {minutes} min. The fare is {amount} {currency}.",
             "Vehicle {code} is free again.",
             "Vehicle {code} is free again. A reservation fee of {amount} {currency} applies.",
             "Your reservation expired", "No-riding zone",
             "You entered {zone}, where riding is not allowed. Please push the vehicle out of the zone."]
    with translation.override("de"):
        untranslated = [text for text in texts if translation.gettext(text) == text]
    assert untranslated == []


def _po_entries(path):
    """msgid -> msgstr of a .po file (singular entries; enough for ours)."""
    import ast

    entries, current, field = {}, {"msgid": "", "msgstr": ""}, None
    for line in path.read_text().splitlines() + [""]:
        if line.startswith(("msgid ", "msgstr ")):
            field, _, literal = line.partition(" ")
            if field == "msgid" and current["msgid"]:
                entries[current["msgid"]] = current["msgstr"]
                current = {"msgid": "", "msgstr": ""}
            current[field] = ast.literal_eval(literal)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        elif not line.strip():
            if current["msgid"]:
                entries[current["msgid"]] = current["msgstr"]
            current, field = {"msgid": "", "msgstr": ""}, None
    return entries


def test_the_committed_mo_is_compiled_from_the_committed_po():
    """The app reads django.mo (no gettext needed to run or test): it must say what django.po says."""
    import gettext
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.LOCALE_PATHS[0]) / "de" / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    translated = {msgid: msgstr for msgid, msgstr in _po_entries(folder / "django.po").items() if msgstr}
    assert len(translated) >= 12
    assert {msgid: compiled.gettext(msgid) for msgid in translated} == translated
