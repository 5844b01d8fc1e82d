"""Demo data of accounts: a rider and an ops admin with fixed credentials (``manage.py demo_data``)."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User

RIDER_EMAIL, RIDER_PASSWORD, RIDER_PHONE = "rider@demo.freewheel.dev", "demo-rider-password", "+4915100000001"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@demo.freewheel.dev", "demo-admin-password"


def _ensure(*, email: str, password: str, **fields: object) -> tuple[User, bool]:
    """Create or reset the demo account, so the printed credentials always work."""
    user, created = User.objects.update_or_create(email=email, defaults=fields)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, created


@transaction.atomic
def load(*, stdout: TextIO) -> None:
    rider, rider_new = _ensure(
        email=RIDER_EMAIL,
        password=RIDER_PASSWORD,
        name="Demo Rider",
        phone=RIDER_PHONE,
        date_of_birth=dt.date(1992, 5, 17),
        phone_verified_at=timezone.now(),
        status=User.Status.ACTIVE,
        is_active=True,
        blocked_reason="",
    )
    admin, admin_new = _ensure(
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        name="Demo Ops Admin",
        is_staff=True,
        is_superuser=True,
        status=User.Status.ACTIVE,
        is_active=True,
        blocked_reason="",
    )
    group, _ = Group.objects.get_or_create(name=roles.ADMIN)
    admin.groups.add(group)
    stdout.write(
        f"accounts: demo rider {'created' if rider_new else 'reset'}: {RIDER_EMAIL} / {RIDER_PASSWORD}"
        f" (phone sign-in: {RIDER_PHONE}, the code is printed by the console SMS backend)\n"
    )
    stdout.write(
        f"accounts: ops admin {'created' if admin_new else 'reset'}: {ADMIN_EMAIL} / {ADMIN_PASSWORD}"
        " (superuser, role admin) at /admin/\n"
    )


def summary(*, stdout: TextIO) -> None:
    """Read-only: the demo credentials, for a database that already holds the demo."""
    for email, password in ((RIDER_EMAIL, RIDER_PASSWORD), (ADMIN_EMAIL, ADMIN_PASSWORD)):
        if User.objects.filter(email=email).exists():
            stdout.write(f"accounts: {email} / {password}\n")
