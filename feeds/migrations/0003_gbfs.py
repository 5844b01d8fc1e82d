"""GBFS systems and alerts (feeds.models.gbfs), after the MDS models (0002_mds)."""

import django.contrib.postgres.fields
import django.core.validators
import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('feeds', '0002_mds'),
        ('fleet', '0011_ops_lock_unconfirmed_and_secure'),
    ]

    operations = [
        migrations.CreateModel(
            name='GbfsSystem',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('system_id', models.CharField(help_text='Public, stable id (GBFS system_id), e.g. freewheel_berlin', max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9._@:-]{1,64}$', 'Letters, digits and . _ @ : - only')])),
                ('published', models.BooleanField(default=True, help_text='Listed in the manifest and served; off = 404')),
                ('name', models.CharField(help_text='System name shown to riders in trip planners', max_length=120)),
                ('short_name', models.CharField(blank=True, max_length=40)),
                ('operator', models.CharField(blank=True, max_length=120)),
                ('languages', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=16, validators=[django.core.validators.RegexValidator('^[a-z]{2,3}(-[A-Z]{2})?$', 'An IETF language code like de or en-GB')]), blank=True, default=list, help_text="Languages of the feed's texts; empty = the city's default language (the first one is used for texts that exist in one language only)")),
                ('opening_hours', models.CharField(default='24/7', help_text='OSM opening_hours syntax, e.g. 24/7 or Mo-Su 06:00-24:00', max_length=255)),
                ('feed_contact_email', models.EmailField(help_text='Where feed consumers report problems with the feed', max_length=254)),
                ('email', models.EmailField(blank=True, help_text='Customer service email', max_length=254)),
                ('phone_number', models.CharField(blank=True, max_length=16, validators=[django.core.validators.RegexValidator('^\\+[1-9][0-9]{1,14}$', 'E.164, e.g. +4930123456')])),
                ('url', models.URLField(blank=True, help_text="The system's web site")),
                ('purchase_url', models.URLField(blank=True)),
                ('terms_url', models.URLField(blank=True)),
                ('terms_last_updated', models.DateField(blank=True, help_text='Required with terms_url', null=True)),
                ('privacy_url', models.URLField(blank=True)),
                ('privacy_last_updated', models.DateField(blank=True, help_text='Required with privacy_url', null=True)),
                ('license_id', models.CharField(blank=True, help_text='SPDX id, e.g. CC0-1.0; empty = CC0', max_length=64)),
                ('start_date', models.DateField(blank=True, null=True)),
                ('android_store_uri', models.URLField(blank=True)),
                ('android_discovery_uri', models.CharField(blank=True, help_text='e.g. freewheel://', max_length=255)),
                ('ios_store_uri', models.URLField(blank=True)),
                ('ios_discovery_uri', models.CharField(blank=True, help_text='e.g. freewheel://', max_length=255)),
                ('rental_uri', models.CharField(blank=True, help_text='Deep link into the app for one vehicle, with {vehicle_id} (the rotating public id), e.g. https://app.freewheel.example/rent?vehicle={vehicle_id}; empty = no rental_uris', max_length=255)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('city', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='fleet.city')),
                ('vehicle_types', models.ManyToManyField(blank=True, help_text="Only these vehicle types (a brand's system); empty = every type with a tariff in the city", related_name='+', to='fleet.vehicletype')),
            ],
            options={
                'verbose_name': 'GBFS system',
                'ordering': ['system_id'],
            },
        ),
        migrations.CreateModel(
            name='GbfsAlert',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, help_text='GBFS alert_id', primary_key=True, serialize=False)),
                ('type', models.CharField(choices=[('system_closure', 'System Closure'), ('station_closure', 'Station Closure'), ('station_move', 'Station Move'), ('other', 'Other')], default='other', max_length=20)),
                ('summary', models.CharField(help_text="Short text, in the system's first language", max_length=120)),
                ('description', models.TextField(blank=True)),
                ('url', models.URLField(blank=True)),
                ('starts_at', models.DateTimeField()),
                ('ends_at', models.DateTimeField(blank=True, help_text='Empty = until further notice', null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('system', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='feeds.gbfssystem')),
            ],
            options={
                'verbose_name': 'GBFS alert',
                'ordering': ['starts_at'],
            },
        ),
        migrations.AddConstraint(
            model_name='gbfssystem',
            constraint=models.CheckConstraint(condition=models.Q(('terms_url', ''), ('terms_last_updated__isnull', False), _connector='OR'), name='gbfssystem_terms_dated'),
        ),
        migrations.AddConstraint(
            model_name='gbfssystem',
            constraint=models.CheckConstraint(condition=models.Q(('privacy_url', ''), ('privacy_last_updated__isnull', False), _connector='OR'), name='gbfssystem_privacy_dated'),
        ),
        migrations.AddConstraint(
            model_name='gbfssystem',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('android_store_uri', ''), ('android_discovery_uri', '')), models.Q(models.Q(('android_store_uri', ''), _negated=True), models.Q(('android_discovery_uri', ''), _negated=True)), _connector='OR'), name='gbfssystem_android_both_uris'),
        ),
        migrations.AddConstraint(
            model_name='gbfssystem',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('ios_store_uri', ''), ('ios_discovery_uri', '')), models.Q(models.Q(('ios_store_uri', ''), _negated=True), models.Q(('ios_discovery_uri', ''), _negated=True)), _connector='OR'), name='gbfssystem_ios_both_uris'),
        ),
        migrations.AddConstraint(
            model_name='gbfssystem',
            constraint=models.CheckConstraint(condition=models.Q(('rental_uri', ''), ('rental_uri__contains', '{vehicle_id}'), _connector='OR'), name='gbfssystem_rental_uri_has_vehicle_id'),
        ),
        migrations.AddConstraint(
            model_name='gbfsalert',
            constraint=models.CheckConstraint(condition=models.Q(('ends_at__isnull', True), ('ends_at__gt', models.F('starts_at')), _connector='OR'), name='gbfsalert_ends_after_start'),
        ),
    ]
