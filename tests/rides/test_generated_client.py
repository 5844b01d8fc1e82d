"""A rider's whole journey through a client generated from ``/api/schema/`` by openapi-python-client, against a real
server (pytest-django's threaded ``live_server`` on the test database): no hand-written request.

What it proves: the schema is complete enough for an app developer's generator (every call, body, enum and answer of
the journey is typed), its operation ids make readable calls (``rides_start.sync(...)``), and the ``Idempotency-Key``
it documents makes a retried start safe. The vehicle's side (unlock and lock acknowledgements) comes from the
simulated gateway through fleet's services, as in the other end-to-end tests.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_python_client import generate
from openapi_python_client.config import Config, ConfigFile, MetaType

from config.celery import app as celery_app
from fleet import services as fleet_services
from rides.models import Ride

pytestmark = pytest.mark.django_db(transaction=True)
PACKAGE = "freewheel_client"


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    # Commits are real here, so on_commit tasks run: commands go out through the silent simulated gateway in-process.
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def client_package(live_server: Any, settings: Any, tmp_path: Path) -> Iterator[ModuleType]:
    """The client package, generated from the running server's schema into a temporary folder (offline)."""
    settings.API_DOCS_PUBLIC = True  # the schema is served off DEBUG only when asked
    schema = tmp_path / "openapi.json"
    schema.write_bytes(httpx.get(f"{live_server.url}/api/schema/?format=json", timeout=30).raise_for_status().content)
    config = Config.from_sources(ConfigFile(post_hooks=[], package_name_override=PACKAGE), MetaType.NONE, schema,
                                 "utf-8", overwrite=True, output_path=tmp_path / PACKAGE)
    problems = generate(config=config)
    # The one operation it cannot type: the vehicles' telemetry also comes as MessagePack, a body it does not read.
    assert [str(p.header) for p in problems if "telemetry" not in str(p.header)] == []
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _modules(package: str, *names: str) -> list[ModuleType]:
    return [importlib.import_module(f"{PACKAGE}.{package}.{name}") for name in names]


def _vehicle_answers(command_id: uuid.UUID | None) -> None:
    """The vehicle receives the command (the silent gateway delivers it) and acknowledges it."""
    assert command_id is not None
    fleet_services.command_deliver(command_id=command_id)
    fleet_services.command_ack(command_id=command_id, ok=True)  # commits: the rides hook runs after commit


def test_a_whole_journey_with_the_generated_client(client_package: ModuleType, live_server: Any, vehicle: Any) -> None:
    fw: Any = client_package
    models: Any = importlib.import_module(f"{PACKAGE}.models")
    auth_register, = _modules("api.auth", "auth_register")
    payment_methods_add, wallet_get = _modules("api.billing", "payment_methods_add", "wallet_get")
    cities_list, cities_get = _modules("api.fleet", "cities_list", "cities_get")
    receipt_get, = _modules("api.billing", "billing_rides_receipt_get")
    vehicles_nearby, = _modules("api.fleet", "vehicles_nearby")
    me_get, = _modules("api.me", "me_get")
    me_devices_register, = _modules("api.me", "me_devices_register")
    reservations_create, reservations_get, rides_start, rides_get, rides_pause, rides_resume, rides_end = _modules(
        "api.rides", "reservations_create", "reservations_get", "rides_start", "rides_get", "rides_pause",
        "rides_resume", "rides_end")
    me_current_get, = _modules("api.rides", "me_current_get")

    # Before signing up: where can I ride?
    anonymous = fw.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    cities = cities_list.sync(client=anonymous)
    assert isinstance(cities, models.CityListOut) and [c.slug for c in cities.results] == [vehicle.city.slug]

    # Sign up: the answer carries the tokens; every later call is the rider's.
    signed_up = auth_register.sync(client=anonymous, body=models.RegisterIn(
        email="ada@example.org", password="correct horse battery staple", name="Ada",
        date_of_birth=dt.date(1990, 5, 17)))
    assert isinstance(signed_up, models.SignInOut) and signed_up.created
    app = fw.AuthenticatedClient(base_url=live_server.url, token=signed_up.tokens.access,
                                 raise_on_unexpected_status=True)
    me = me_get.sync(client=app)
    assert isinstance(me, models.MeOut) and me.status == models.UserStatusEnum.ACTIVE
    # Push: this install registers its FCM token (again at every start of the app).
    device = me_devices_register.sync("install-7f3a", client=app, body=models.DeviceRegisterIn(
        provider=models.PushProviderEnum.FCM, platform=models.DevicePlatformEnum.ANDROID, token="fcm-token-1",
        app_version="1.0.0", locale="de-DE", time_zone="Europe/Berlin"))
    assert isinstance(device, models.DeviceOut) and device.install_id == "install-7f3a"

    # What a first ride still needs, and the call that provides it: a card.
    assert [(r.code, r.action.path) for r in me.ride_requirements] == [
        (models.RideRequirementCodeEnum.PAYMENT_METHOD_REQUIRED, "/api/v1/payment-methods")]

    # A card: the app's card form gives the payment provider's token (the test PSP's tok_visa).
    card = payment_methods_add.sync(client=app, body=models.PaymentMethodAddIn(token="tok_visa"),
                                    idempotency_key=str(uuid.uuid4()))
    assert isinstance(card, models.PaymentMethodOut) and card.last4 == "4242"
    assert me_get.sync(client=app).ride_requirements == []

    # Nearby vehicles, then reserve the one found and start the ride from the reservation.
    nearby = vehicles_nearby.sync(client=app, lat=vehicle.lat, lon=vehicle.lon)
    assert isinstance(nearby, models.VehicleNearbyListOut)
    found = next(v for v in nearby.results if v.code == vehicle.code)
    assert isinstance(found.position, models.VehiclePositionOut)
    assert cities_get.sync(str(found.city.id), client=app).slug == found.city.slug == vehicle.city.slug
    reservation = reservations_create.sync(client=app, body=models.ReservationCreateIn(code=found.code),
                                           idempotency_key=str(uuid.uuid4()))
    assert isinstance(reservation, models.ReservationOut)
    assert reservation.state == models.ReservationStateEnum.ACTIVE

    start_key = str(uuid.uuid4())
    ride = rides_start.sync(client=app, body=models.RideStartIn(reservation_id=reservation.id),
                            idempotency_key=start_key)
    assert isinstance(ride, models.RideOut) and ride.state == models.RideStateEnum.UNLOCKING
    # The answer was lost (a tunnel): the app sends the same call again with the same key and gets the same ride.
    retried = rides_start.sync_detailed(client=app, body=models.RideStartIn(reservation_id=reservation.id),
                                        idempotency_key=start_key)
    assert retried.headers["Idempotent-Replayed"] == "true" and retried.parsed.id == ride.id

    # The app is killed and restarted: one launch call finds the open ride (and no reservation: it became the ride).
    launched = me_current_get.sync(client=fw.AuthenticatedClient(base_url=live_server.url,
                                                                 token=signed_up.tokens.access))
    assert isinstance(launched, models.CurrentOut) and launched.reservation is None
    assert (launched.ride.id, launched.ride.state) == (ride.id, models.RideStateEnum.UNLOCKING)
    converted = reservations_get.sync(reservation.id, client=app)
    assert (converted.state, converted.ride_id) == (models.ReservationStateEnum.CONVERTED, ride.id)

    # Polling while the vehicle unlocks is cheap: the ETag answers 304 until something changes.
    polled = rides_get.sync_detailed(ride.id, client=app)
    assert polled.status_code == 200 and polled.parsed.state == models.RideStateEnum.UNLOCKING
    assert rides_get.sync_detailed(ride.id, client=app, if_none_match=polled.headers["ETag"]).status_code == 304
    _vehicle_answers(Ride.objects.get(id=ride.id).unlock_command_id)
    unlocked = rides_get.sync_detailed(ride.id, client=app, if_none_match=polled.headers["ETag"])
    assert unlocked.status_code == 200 and unlocked.parsed.state == models.RideStateEnum.ACTIVE
    assert rides_pause.sync(ride.id, client=app, idempotency_key=str(uuid.uuid4())).state == \
        models.RideStateEnum.PAUSED
    assert rides_resume.sync(ride.id, client=app, idempotency_key=str(uuid.uuid4())).state == \
        models.RideStateEnum.ACTIVE

    ending = rides_end.sync(ride.id, client=app, idempotency_key=str(uuid.uuid4()))
    assert isinstance(ending, models.RideOut) and ending.state == models.RideStateEnum.LOCKING
    # A double tap on "end" (a new action, so a new key) answers the ride as it is: still locking.
    tapped_again = rides_end.sync_detailed(ride.id, client=app, idempotency_key=str(uuid.uuid4()))
    assert (tapped_again.status_code, tapped_again.parsed.state) == (202, models.RideStateEnum.LOCKING)
    _vehicle_answers(Ride.objects.get(id=ride.id).lock_command_id)
    ended = rides_get.sync(ride.id, client=app)
    assert isinstance(ended, models.RideDetailOut) and ended.state == models.RideStateEnum.ENDED
    tapped_late = rides_end.sync_detailed(ride.id, client=app, idempotency_key=str(uuid.uuid4()))
    assert (tapped_late.status_code, tapped_late.parsed.state) == (200, models.RideStateEnum.ENDED)
    assert me_current_get.sync(client=app).ride is None

    receipt = receipt_get.sync(ride.id, client=app)
    assert isinstance(receipt, models.ReceiptOut) and isinstance(receipt.total, models.Money)
    assert (receipt.total.amount, receipt.total.currency) == (ended.fare_total.amount, ended.fare_total.currency)
    assert receipt.lines and receipt.paid.card.amount == receipt.total.amount  # the card paid (no wallet money)
    wallet = wallet_get.sync(client=app)
    assert isinstance(wallet, models.WalletOut)

    # An error answer is typed too: the code to branch on is in the schema's list for this operation and status.
    again = rides_pause.sync_detailed(ride.id, client=app)
    assert again.status_code == 409 and isinstance(again.parsed, models.ErrorOut)
    assert again.parsed.error.code == "ride_state_conflict"
