"""GBFS systems: what a public feed says about a city that fleet, billing and rides do not hold.

A ``GbfsSystem`` is one published GBFS dataset (``system_id``) for a city, optionally limited to some vehicle types
(one system per city and brand). Everything else in the feed (vehicles, types, zones, prices) is read from the
other apps when a file is rendered (``feeds.gbfs.documents``).
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models

from fleet.models import City, VehicleType

# An ID as GBFS 3.0 recommends it (A-Z a-z 0-9 and .@:/_-); ours also goes in URLs, so no "/".
_SYSTEM_ID = RegexValidator(r"^[A-Za-z0-9._@:-]{1,64}$", "Letters, digits and . _ @ : - only")
_LANGUAGE = RegexValidator(r"^[a-z]{2,3}(-[A-Z]{2})?$", "An IETF language code like de or en-GB")
_PHONE = RegexValidator(r"^\+[1-9][0-9]{1,14}$", "E.164, e.g. +4930123456")


class GbfsSystem(models.Model):
    """One GBFS dataset, published under ``/gbfs/v3/<system_id>/`` and ``/gbfs/v2/<system_id>/``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system_id = models.CharField(max_length=64, unique=True, validators=[_SYSTEM_ID],
                                 help_text="Public, stable id (GBFS system_id), e.g. freewheel_berlin")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="+")
    vehicle_types = models.ManyToManyField(
        VehicleType, blank=True, related_name="+",
        help_text="Only these vehicle types (a brand's system); empty = every type with a tariff in the city",
    )
    published = models.BooleanField(default=True, help_text="Listed in the manifest and served; off = 404")
    name = models.CharField(max_length=120, help_text="System name shown to riders in trip planners")
    short_name = models.CharField(max_length=40, blank=True)
    operator = models.CharField(max_length=120, blank=True)
    languages = ArrayField(
        models.CharField(max_length=16, validators=[_LANGUAGE]), blank=True, default=list,
        help_text="Languages of the feed's texts; empty = the city's default language (the first one is used "
                  "for texts that exist in one language only)",
    )
    opening_hours = models.CharField(max_length=255, default="24/7",
                                     help_text="OSM opening_hours syntax, e.g. 24/7 or Mo-Su 06:00-24:00")
    feed_contact_email = models.EmailField(help_text="Where feed consumers report problems with the feed")
    email = models.EmailField(blank=True, help_text="Customer service email")
    phone_number = models.CharField(max_length=16, blank=True, validators=[_PHONE])
    url = models.URLField(blank=True, help_text="The system's web site")
    purchase_url = models.URLField(blank=True)
    terms_url = models.URLField(blank=True)
    terms_last_updated = models.DateField(null=True, blank=True, help_text="Required with terms_url")
    privacy_url = models.URLField(blank=True)
    privacy_last_updated = models.DateField(null=True, blank=True, help_text="Required with privacy_url")
    license_id = models.CharField(max_length=64, blank=True, help_text="SPDX id, e.g. CC0-1.0; empty = CC0")
    start_date = models.DateField(null=True, blank=True)
    android_store_uri = models.URLField(blank=True)
    android_discovery_uri = models.CharField(max_length=255, blank=True, help_text="e.g. freewheel://")
    ios_store_uri = models.URLField(blank=True)
    ios_discovery_uri = models.CharField(max_length=255, blank=True, help_text="e.g. freewheel://")
    rental_uri = models.CharField(
        max_length=255, blank=True,
        help_text="Deep link into the app for one vehicle, with {vehicle_id} (the rotating public id), e.g. "
                  "https://app.freewheel.example/rent?vehicle={vehicle_id}; empty = no rental_uris",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["system_id"]
        verbose_name = "GBFS system"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(terms_url="") | models.Q(terms_last_updated__isnull=False),
                name="gbfssystem_terms_dated",
            ),
            models.CheckConstraint(
                condition=models.Q(privacy_url="") | models.Q(privacy_last_updated__isnull=False),
                name="gbfssystem_privacy_dated",
            ),
            models.CheckConstraint(
                condition=(models.Q(android_store_uri="") & models.Q(android_discovery_uri=""))
                | (~models.Q(android_store_uri="") & ~models.Q(android_discovery_uri="")),
                name="gbfssystem_android_both_uris",
            ),
            models.CheckConstraint(
                condition=(models.Q(ios_store_uri="") & models.Q(ios_discovery_uri=""))
                | (~models.Q(ios_store_uri="") & ~models.Q(ios_discovery_uri="")),
                name="gbfssystem_ios_both_uris",
            ),
            models.CheckConstraint(
                condition=models.Q(rental_uri="") | models.Q(rental_uri__contains="{vehicle_id}"),
                name="gbfssystem_rental_uri_has_vehicle_id",
            ),
        ]

    def __str__(self) -> str:
        return self.system_id


class GbfsAlertType(models.TextChoices):
    SYSTEM_CLOSURE = "system_closure"
    STATION_CLOSURE = "station_closure"
    STATION_MOVE = "station_move"
    OTHER = "other"


class GbfsAlert(models.Model):
    """An announcement in ``system_alerts`` (closures, events), shown while ``starts_at <= now < ends_at``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="GBFS alert_id")
    system = models.ForeignKey(GbfsSystem, on_delete=models.CASCADE, related_name="alerts")
    type = models.CharField(max_length=20, choices=GbfsAlertType.choices, default=GbfsAlertType.OTHER)
    summary = models.CharField(max_length=120, help_text="Short text, in the system's first language")
    description = models.TextField(blank=True)
    url = models.URLField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty = until further notice")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = "GBFS alert"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=models.F("starts_at")),
                name="gbfsalert_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.summary
