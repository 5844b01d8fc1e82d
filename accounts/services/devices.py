"""App installs that receive pushes: register (and take a token over), unregister."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Device, User

logger = logging.getLogger(__name__)


def device_register(*, user: User, install_id: str, provider: str, platform: str, token: str,
                    app_version: str = "", locale: str = "", time_zone: str = "") -> tuple[Device, bool]:
    """Register (or re-register) the install ``install_id`` of ``user``; returns the device and whether it is new.

    A re-registered install gets its new token. A token belongs to one account: a row of another account (the
    phone changed hands, or signed in with another account) or of another install holding it is removed. An
    account keeps at most ``Device.MAX_PER_USER`` installs: the one registered longest ago goes.
    """
    for attempt in (1, 2):
        try:
            return _register(user=user, install_id=install_id, provider=provider, platform=platform, token=token,
                             app_version=app_version, locale=locale, time_zone=time_zone)
        except IntegrityError:
            # Another request registered the same token (another account) or install at the same moment: the
            # second try sees its row and takes the token over.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _register(*, user: User, install_id: str, provider: str, platform: str, token: str, app_version: str,
              locale: str, time_zone: str) -> tuple[Device, bool]:
    # Lock order: the account's row first; two registrations of one account queue here (the cap below).
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
    taken = Device.objects.filter(provider=provider, token=token).exclude(user=user, install_id=install_id)
    moved = [str(user_id) for user_id in taken.exclude(user=user).values_list("user_id", flat=True)]
    if moved:
        logger.info("push token moved to %s from %s", user.pk, ", ".join(moved))
    taken.delete()
    now = timezone.now()
    device, created = Device.objects.update_or_create(
        user=user, install_id=install_id,
        defaults={"provider": provider, "platform": platform, "token": token, "app_version": app_version,
                  "locale": locale, "time_zone": time_zone, "registered_at": now},
        create_defaults={"provider": provider, "platform": platform, "token": token, "app_version": app_version,
                         "locale": locale, "time_zone": time_zone, "registered_at": now, "created_at": now},
    )
    surplus = list(Device.objects.filter(user=user).order_by("-registered_at", "-created_at")
                   .values_list("id", flat=True)[Device.MAX_PER_USER:])
    if surplus:
        Device.objects.filter(id__in=surplus).delete()
    return device, created


def device_unregister(*, user: User, install_id: str) -> bool:
    """Forget the install (the app signs out, or turns pushes off). Returns whether there was one; unregistering
    again is no error (the install is not registered either way)."""
    deleted, _ = Device.objects.filter(user=user, install_id=install_id).delete()
    return bool(deleted)
