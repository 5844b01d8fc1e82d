"""Demo data of the feeds (``manage.py demo_data``): an MDS agency regulating the demo city, with a fixed token,
and the demo city's public GBFS system (``freewheel_berlin``).

The token is a published development value, like the demo vehicle's IoT secret, so ``demo_data`` can print it
again; a real agency gets a random one (``manage.py mds_agency_token``, the admin).
"""

from __future__ import annotations

from typing import TextIO

from feeds.mds import selectors, services
from feeds.models import Agency, AgencyCredential, GbfsSystem
from fleet import demo as fleet_demo
from fleet import selectors as fleet_selectors

DEMO_AGENCY = "Demo city regulator"
DEMO_TOKEN_PREFIX = "demo0000"
DEMO_TOKEN = f"mds_{DEMO_TOKEN_PREFIX}_demo-agency-token-not-for-production"
GBFS_SYSTEM_ID = "freewheel_berlin"


def load(*, stdout: TextIO) -> None:
    city = fleet_selectors.city_get_by_slug(slug=fleet_demo.CITY_SLUG)
    if city is None:
        stdout.write("feeds: no demo city (load fleet first)\n")
        return
    agency = services.agency_ensure(name=DEMO_AGENCY, city_slugs=[fleet_demo.CITY_SLUG])
    AgencyCredential.objects.get_or_create(
        prefix=DEMO_TOKEN_PREFIX, defaults={"agency": agency, "token_hash": selectors.token_hash(DEMO_TOKEN)},
    )
    GbfsSystem.objects.get_or_create(system_id=GBFS_SYSTEM_ID, defaults={
        "city": city, "name": "Freewheel Berlin", "operator": "Freewheel",
        "feed_contact_email": "gbfs@freewheel.example", "email": "hilfe@freewheel.example",
        "url": "https://freewheel.example/berlin", "opening_hours": "24/7",
        "rental_uri": "https://freewheel.example/app/rent?vehicle={vehicle_id}",
        "android_store_uri": "https://play.google.com/store/apps/details?id=example.freewheel",
        "android_discovery_uri": "freewheel://", "ios_store_uri": "https://apps.apple.com/app/id000000000",
        "ios_discovery_uri": "freewheel://",
    })
    summary(stdout=stdout)


def summary(*, stdout: TextIO) -> None:
    if Agency.objects.filter(name=DEMO_AGENCY, credentials__prefix=DEMO_TOKEN_PREFIX).exists():
        stdout.write(f"feeds: MDS agency '{DEMO_AGENCY}' ({fleet_demo.CITY_SLUG}), token {DEMO_TOKEN}\n")
        stdout.write(f"feeds: curl -H 'Authorization: Bearer {DEMO_TOKEN}' "
                     "-H 'Accept: application/vnd.mds+json;version=2.0' http://localhost:8000/mds/vehicles/status\n")
    if GbfsSystem.objects.filter(system_id=GBFS_SYSTEM_ID).exists():
        stdout.write(f"feeds: GBFS at /gbfs/manifest.json, /gbfs/v3/{GBFS_SYSTEM_ID}/gbfs.json "
                     f"and /gbfs/v2/{GBFS_SYSTEM_ID}/gbfs.json\n")
