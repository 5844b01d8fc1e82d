from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_answers_without_auth(client):
    r = client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_checks_database_migrations_and_redis(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")


@pytest.mark.django_db
def test_metrics_counts_requests_per_route(client):
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert 'freewheel_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert "freewheel_http_request_duration_seconds_bucket" in text


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


@pytest.mark.django_db
def test_every_response_says_its_time_in_the_app_and_cpu_as_server_timing(client):
    timing = client.get("/healthz")["Server-Timing"]
    parts = dict(part.strip().split(";dur=") for part in timing.split(","))
    assert set(parts) == {"app", "cpu", "gc"}
    assert float(parts["cpu"]) >= 0 and float(parts["gc"]) >= 0 and 0 < float(parts["app"]) < 10_000


@pytest.mark.django_db
def test_server_timing_counts_the_garbage_collections_the_request_ran(client, monkeypatch):
    import gc

    from core import metrics

    real = metrics.MetricsMiddleware.__call__

    def collecting(self, request):  # a view that triggers a full collection
        original = self.get_response
        self.get_response = lambda r: (gc.collect(), original(r))[1]
        try:
            return real(self, request)
        finally:
            self.get_response = original

    monkeypatch.setattr(metrics.MetricsMiddleware, "__call__", collecting)
    timing = client.get("/healthz")["Server-Timing"]
    parts = dict(part.strip().split(";dur=") for part in timing.split(","))
    assert float(parts["gc"]) > 0


@pytest.mark.slow
def test_server_processes_freeze_their_start_up_objects_out_of_the_collector():
    """config.wsgi / config.asgi / a Celery child leave start-up objects to no full collection (core.gc)."""
    import subprocess
    import sys

    code = ("import gc, config.{0}; n = gc.get_freeze_count(); "
            "print(n); assert n > 50_000, n")
    for module in ("wsgi", "asgi"):
        done = subprocess.run([sys.executable, "-c", code.format(module)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
    from config import celery

    assert celery._freeze_startup_objects in [r() for _, r in celery.worker_process_init.receivers]  # type: ignore[misc]
