from celery import shared_task
from django.utils import timezone

from core.models import IdempotencyKey


@shared_task
def idempotency_purge() -> int:
    """Delete idempotency keys past their expiry (hourly, from beat)."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
