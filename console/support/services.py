"""Support's writes: notes, and the actions of the rider page, each recorded as a note before it runs.

Why the note first: the action itself lives in another app's service (billing's refund commits its Refund row
before it calls the payment provider, so it cannot run inside a transaction of ours). The note, keyed by the
confirmation form's token (a unique column), is the claim: a second submit of the same form finds it and does
nothing, also when both arrive at once (the second insert waits on the first's unique index entry)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.models import User
from console.models import SupportNote
from core import audit
from core.errors import DomainError


@dataclass(frozen=True)
class ActionResult:
    note: SupportNote
    ran: bool  # False: this submission had already been handled (a double submit); nothing was done again


def support_note_add(*, rider: User, author: User, text: str, submission: uuid.UUID | None = None) -> ActionResult:
    """A note by hand; the same form submitted twice adds it once."""
    try:
        with transaction.atomic():
            note = SupportNote.objects.create(rider=rider, author=author, kind=SupportNote.Kind.NOTE,
                                              text=text.strip()[:2000], submission=submission)
            audit.audit_staff_action(actor=author, action="console.support_note", obj=rider,
                                     after={"note": note.text})
    except IntegrityError:
        return ActionResult(SupportNote.objects.get(submission=submission), ran=False)
    return ActionResult(note, ran=True)


def error_text(exc: DomainError) -> str:
    details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in exc.details.items())
    return f"{exc.detail_message} ({details})" if details else exc.detail_message


def support_action(*, rider: User, actor: User, kind: str, text: str, submission: uuid.UUID,
                   run: Callable[[], str]) -> ActionResult:
    """Record the action as a note, run it once (``run`` returns what it did, in words), record its outcome.

    A ``DomainError`` of ``run`` is recorded as the note's failed outcome and raised again; a submission seen
    before returns its note with ``ran=False`` and does not run anything."""
    try:
        with transaction.atomic():
            note = SupportNote.objects.create(rider=rider, author=actor, kind=kind, text=text[:2000],
                                              submission=submission)
    except IntegrityError:
        return ActionResult(SupportNote.objects.get(submission=submission), ran=False)
    try:
        outcome = run()
    except DomainError as exc:
        _settle(note, ok=False, outcome=f"Failed: {error_text(exc)}")
        raise
    _settle(note, ok=True, outcome=outcome)
    note.refresh_from_db()
    return ActionResult(note, ran=True)


def _settle(note: SupportNote, *, ok: bool, outcome: str) -> None:
    # The one change a note ever gets: its outcome, once (the conditional update makes a second one a no-op).
    SupportNote.objects.filter(pk=note.pk, ok__isnull=True).update(ok=ok, outcome=outcome[:255])
