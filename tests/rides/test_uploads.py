"""Problem-report and parking photos: size cap, content check, metadata stripped, random names, staff-only serving."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.services import roles
from fleet.models import OpsTask
from rides.models import ProblemReport
from tests.accounts.factories import UserFactory
from tests.rides.conftest import ack, photo, started

pytestmark = pytest.mark.django_db


def _problems(ride: Any) -> str:
    return f"/api/v1/rides/{ride.id}/problems"


def _report(api: Any, ride: Any, upload: Any) -> Any:
    return api.post(_problems(ride), {"category": "damaged", "photo": upload}, format="multipart")


def _staff(role: str) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def ride(api: Any, card_rider: Any, vehicle: Any, django_capture_on_commit_callbacks: Any) -> Any:
    return started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)


def test_a_photo_over_the_limit_is_413_and_nothing_is_recorded(api, ride, settings):
    settings.UPLOAD_MAX_BYTES = 40 * 1024  # the 10 MB default scaled down, so the test sends 40x less
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\0" * (settings.UPLOAD_MAX_BYTES + 1), "image/jpeg")
    r = _report(api, ride, big)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "upload_too_large")
    assert not ProblemReport.objects.exists() and not OpsTask.objects.exists()


def test_a_40_mb_photo_is_refused_at_the_default_limit(api, ride):
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\0" * (40 * 1024 * 1024), "image/jpeg")
    r = _report(api, ride, big)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "upload_too_large")
    assert not ProblemReport.objects.exists()


@pytest.mark.parametrize("upload", [
    SimpleUploadedFile("x.html", b"<html><script>alert(document.cookie)</script></html>", "text/html"),
    SimpleUploadedFile("x.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),  # lies about its type
    SimpleUploadedFile("x.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg"),
])
def test_anything_but_an_image_is_415_and_nothing_is_recorded(api, ride, upload):
    r = _report(api, ride, upload)
    assert (r.status_code, r.json()["error"]["code"]) == (415, "upload_type_unsupported")
    assert not ProblemReport.objects.exists() and not OpsTask.objects.exists()


def test_a_parking_photo_is_checked_too(api, ride, django_capture_on_commit_callbacks):
    html = SimpleUploadedFile("p.html", b"<script>alert(1)</script>", "text/html")
    r = api.post(f"/api/v1/rides/{ride.id}/end", {"photo": html}, format="multipart")
    assert (r.status_code, r.json()["error"]["code"]) == (415, "upload_type_unsupported")
    ride.refresh_from_db()
    assert ride.state == "active" and not ride.parking_photo


def test_a_jpeg_is_stored_reencoded_without_exif_gps_under_a_random_name(api, ride):
    upload = photo("my home address.jpg", gps=True)
    assert Image.open(io.BytesIO(upload.read())).getexif().get_ifd(0x8825)  # the original carries GPS
    upload.seek(0)
    r = _report(api, ride, upload)
    assert r.status_code == 201, r.json()
    stored = ProblemReport.objects.get().photo
    name = str(stored.name)
    assert name.startswith("rides/problems/") and "home" not in name
    assert len(name.rsplit("/", 1)[-1]) == len("0123456789abcdef0123456789abcdef.jpg")
    with stored.open("rb") as handle:
        data = handle.read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (64, 48)
    assert not image.getexif() and b"Exif" not in data and b"PhoneMaker" not in data


def test_the_admin_link_serves_the_photo_to_staff_only_with_safe_headers(api, ride, rider):
    assert _report(api, ride, photo("a.jpg", gps=True)).status_code == 201
    report = ProblemReport.objects.get()
    support = _staff("support_agent")
    browser = Client()
    browser.force_login(support)
    page = browser.get(f"/admin/rides/problemreport/{report.pk}/change/")
    assert page.status_code == 200 and report.photo.url in page.content.decode()
    assert report.photo.url.startswith("/media/rides/problems/")

    served: Any = browser.get(report.photo.url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg" and served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("inline; filename=")
    assert "sandbox" in served["Content-Security-Policy"]
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).format == "JPEG"

    assert Client().get(report.photo.url).status_code == 404  # anonymous
    rider_browser = Client()
    rider_browser.force_login(rider)
    assert rider_browser.get(report.photo.url).status_code == 404
    assert api.as_(rider).get(report.photo.url).status_code == 404  # the rider's JWT opens nothing here
    finance = Client()
    finance.force_login(_staff("finance"))  # staff, but without rides.view_problemreport
    assert finance.get(report.photo.url).status_code == 404


@pytest.mark.parametrize("name", ["../config/settings.py", "rides/problems/../../../etc/passwd", "accounts/x.jpg",
                                  "rides/problems/2026/01/missing.jpg"])
def test_nothing_outside_the_photo_folders_is_served(name):
    superuser = UserFactory.create(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(superuser)
    assert browser.get(f"/media/{name}").status_code == 404


def test_a_file_stored_before_the_checks_is_served_as_a_download(ride, settings, tmp_path):
    from django.core.files.base import ContentFile

    report = ProblemReport.objects.create(ride=ride, category="other")
    report.photo.save("old-upload.html", ContentFile(b"<script>alert(1)</script>"))
    browser = Client()
    browser.force_login(_staff("support_agent"))
    served = browser.get(report.photo.url)
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream" and served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"].startswith("attachment;")


def test_the_end_to_end_parking_photo_still_works(api, ride, django_capture_on_commit_callbacks):
    r = api.post(f"/api/v1/rides/{ride.id}/end", {"photo": photo("p.jpg", gps=True)}, format="multipart")
    assert r.status_code == 202, r.json()
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    with ride.parking_photo.open("rb") as handle:
        assert b"Exif" not in handle.read()
