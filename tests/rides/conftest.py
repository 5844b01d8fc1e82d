"""Rides fixtures: Berlin with an operating area, a scooter type with a tariff, a rider with a card."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from billing.services import methods, tariffs
from core import cache as core_cache
from fleet import services as fleet_services
from fleet.models import Command
from fleet.selectors import zones as zone_selectors
from rides.models import Ride
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory

START_URL = "/api/v1/rides/start"


@pytest.fixture(autouse=True)
def _fresh_geofence_cache(settings: Any) -> Iterator[None]:
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"  # acks are sent by the tests (``ack``)
    zone_selectors.clear_geofence_cache()
    core_cache.cached_forget()  # city ride settings and tariffs cached by an earlier test's process copy
    yield
    zone_selectors.clear_geofence_cache()


@pytest.fixture
def city(db: Any) -> Any:
    city = CityFactory.create(slug="berlin", name="Berlin")
    ZoneFactory.create(city=city, kind="operating_area")
    return city


@pytest.fixture
def scooter(db: Any, city: Any) -> Any:
    vehicle_type = VehicleTypeFactory.create(code="scooter", min_rider_age=18)
    tariffs.tariff_publish(city=city, vehicle_type=vehicle_type, unlock_fee=Decimal("1.00"),
                           brackets=[{"start_minute": 0, "per_minute": "0.25"}], pause_per_minute=Decimal("0.10"))
    return vehicle_type


@pytest.fixture
def vehicle(city: Any, scooter: Any) -> Any:
    return VehicleFactory.create(city=city, vehicle_type=scooter, code="FW00001")


def add_card(user: Any) -> Any:
    return methods.payment_method_add(user=user, token="tok_visa")


@pytest.fixture
def card_rider(rider: Any) -> Any:
    add_card(rider)
    return rider


def ack(command_id: uuid.UUID | None, capture: Any, ok: bool = True) -> None:
    """The vehicle answers: deliver the command through the (silent) simulated gateway, then acknowledge it."""
    assert command_id is not None
    fleet_services.command_deliver(command_id=command_id)
    with capture(execute=True):
        fleet_services.command_ack(command_id=command_id, ok=ok)


def started(api: Any, rider: Any, code: str, capture: Any) -> Ride:
    """A ride started through the API and unlocked by the vehicle."""
    response = api.as_(rider).post(START_URL, {"code": code}, format="json")
    assert response.status_code == 201, response.json()
    ride = Ride.objects.get(id=response.json()["id"])
    ack(ride.unlock_command_id, capture)
    ride.refresh_from_db()
    return ride


def commands(vehicle: Any) -> list[str]:
    return list(Command.objects.filter(vehicle=vehicle).order_by("created_at").values_list("kind", flat=True))


@pytest.fixture
def staff_user(db: Any) -> Any:
    from tests.accounts.factories import UserFactory

    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")  # parking and problem photos stay out of the tree


def photo(name: str = "photo.jpg", *, gps: bool = False, size: tuple[int, int] = (64, 48)) -> Any:
    """A real JPEG upload (uploads are decoded: made-up bytes are refused), optionally with an EXIF GPS position."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import ExifTags, Image

    exif = Image.Exif()
    if gps:
        exif[ExifTags.Base.Make] = "PhoneMaker"
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSLatitudeRef], gps_ifd[ExifTags.GPS.GPSLatitude] = "N", (52.0, 31.0, 12.0)
        gps_ifd[ExifTags.GPS.GPSLongitudeRef], gps_ifd[ExifTags.GPS.GPSLongitude] = "E", (13.0, 24.0, 18.0)
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")
