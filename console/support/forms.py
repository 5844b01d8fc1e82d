"""The forms of support's actions: each carries the confirmation page's ``submission`` token."""

from __future__ import annotations

from decimal import Decimal

from django import forms


class _Submitted(forms.Form):
    submission = forms.UUIDField(widget=forms.HiddenInput)


class NoteForm(_Submitted):
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Note")


class ReasonForm(_Submitted):
    reason = forms.CharField(max_length=255, help_text="Recorded in the rider's support notes.")


class BlockForm(_Submitted):
    reason = forms.CharField(max_length=255, help_text="Shown to the rider in the account_blocked error.")


class RideForm(_Submitted):
    """Force-end and resend receipt: the ride is in the URL; a reason for the record."""

    reason = forms.CharField(max_length=255, required=False, help_text="Recorded in the rider's support notes.")


class ForceEndForm(_Submitted):
    reason = forms.CharField(max_length=255, help_text="Told to the rider and kept on the ride.")


class RefundForm(_Submitted):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=2,
                                help_text="Up to what is left to refund on this ride.")
    reason = forms.CharField(max_length=255)


class GoodwillForm(_Submitted):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=10, decimal_places=2,
                                help_text="Bonus credit (not refundable as cash).")
    currency = forms.ChoiceField()
    reason = forms.CharField(max_length=255)

    def __init__(self, *args: object, currencies: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["currency"].choices = [(c, c) for c in currencies]  # type: ignore[attr-defined]
