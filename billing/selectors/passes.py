"""Pass reads: the catalogue on sale, a rider's valid passes."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import PassProduct, RiderPass


def pass_catalogue(*, city_slug: str | None = None) -> QuerySet[PassProduct]:
    products = PassProduct.objects.filter(active=True).select_related("city")
    if city_slug:
        products = products.filter(Q(city__isnull=True) | Q(city__slug=city_slug))
    return products


def passes_valid_for(*, user: User) -> QuerySet[RiderPass]:
    """Passes not yet expired (a used-up minute pack is still listed until it expires), soonest ending first."""
    return (RiderPass.objects.filter(user=user, ends_at__gt=timezone.now()).select_related("product__city")
            .order_by("ends_at"))
