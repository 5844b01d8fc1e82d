"""Freewheel settings: one file, every difference between environments is an environment variable.

The variables are documented in README.md ("Configuration"). Readers live in config/env.py.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.schedules import crontab
from corsheaders.defaults import default_headers as cors_default_headers
from django.utils.csp import CSP

from config.env import (
    env_bool,
    env_database,
    env_decimal,
    env_int,
    env_list,
    env_networks,
    env_redis_url,
    env_str,
    map_tile_origins,
)

if sys.version_info < (3, 12):  # pragma: no cover - guarded by requires-python too
    raise SystemExit("Freewheel needs Python 3.12 or newer")

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules
SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-secret-key-change-me" if (DEBUG or TESTING) else None)
if not DEBUG and not TESTING and len(SECRET_KEY) < 32:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "core.adminsite",  # django.contrib.admin with every model admin audited (docs/audit.md)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "corsheaders",
    "simple_history",
    "core",
    "accounts",
    "fleet",
    "billing",
    "rides",
    "telemetry",
    "live",
    "feeds",
    "console",
]

MIDDLEWARE = [
    "core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.audit.AuditContextMiddleware",  # request id, client IP and source of audit entries (docs/audit.md)
    "django.contrib.messages.middleware.MessageMiddleware",
    "fleet.middleware.AdminTimeZoneMiddleware",
    # Who made a change, for the versioned history of zones (django-simple-history; docs/admin.md#zone-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns its lockout into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# An ASGI server (Daphne: the ws process, `manage.py runserver`; config.asgi and manage.py set ASGI_SERVER) runs each
# sync request in a thread of its own: a connection kept there for CONN_MAX_AGE is never reused, and they pile up
# until garbage collection finds them. Such a process takes its connections, its sockets' too, from a pool instead
# (docs/operations.md "Database connections").
ASGI_SERVER = env_bool("ASGI_SERVER", False)
ASGI_DB_POOL_SIZE = env_int("ASGI_DB_POOL_SIZE", 10, minimum=0)
DATABASES = {"default": env_database("DATABASE_URL", pool_size=ASGI_DB_POOL_SIZE if ASGI_SERVER else None)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env_redis_url("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                     "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "")}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Admin login lockout (django-axes, docs/security.md "Brute force and lockout"). The API's sign-in does not call
# django.contrib.auth.authenticate (accounts.services.auth) and has DRF throttles instead; axes watches the admin.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ONLY_ADMIN_SITE = True
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]  # one address guessing one account's password
AXES_CLIENT_IP_CALLABLE = "core.clientip.client_ip"
AXES_USERNAME_CALLABLE = "accounts.admin.lockout.lockout_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked_out.html"
AXES_VERBOSE = False  # axes logs its configuration at start-up in every process, commands' --help included
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
# Languages of notifications and pushes (a rider's `language`; docs/accounts.md "Push notifications"). Texts are
# translated in locale/<lang>/LC_MESSAGES/django.po; the compiled .mo is committed.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Time zone of times in the admin (docs/admin.md "Local time"): a staff member's own zone (their user's
# time_zone) wins; empty here: the zone of the only city, or UTC with several cities. The API always speaks UTC.
OPS_TIME_ZONE = env_str("OPS_TIME_ZONE", "")
if OPS_TIME_ZONE:
    import zoneinfo

    from django.core.exceptions import ImproperlyConfigured

    if OPS_TIME_ZONE not in zoneinfo.available_timezones():
        raise ImproperlyConfigured(f"OPS_TIME_ZONE {OPS_TIME_ZONE!r} is not an IANA time zone (e.g. Europe/Berlin)")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Browser libraries from the npm registry (package.json; `make install` runs `npm ci`), served as our own static
# files under static/vendor/, never from a CDN. core's system check core.E010 says when they are missing.
NODE_MODULES = BASE_DIR / "node_modules"
VENDOR_STATIC = {
    "vendor/leaflet": NODE_MODULES / "leaflet" / "dist",
    "vendor/leaflet-geoman": NODE_MODULES / "@geoman-io" / "leaflet-geoman-free" / "dist",
}
STATICFILES_DIRS = [(prefix, path) for prefix, path in VENDOR_STATIC.items() if path.is_dir()]
# Admin maps (docs/admin.md "Maps"): an XYZ tile URL and its attribution. Empty URL: maps draw vehicles and zones
# on a blank background (no tile requests at all). The tile server's origin is added to the CSP's img-src.
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env_str(
    "MAP_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors')
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
# Uploaded photos (docs/security.md "Uploads"): a storage backend class, e.g. an S3 one from django-storages.
STORAGES = {
    "default": {"BACKEND": env_str("MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

# Django 6.1 mailers; EMAIL_BACKEND picks the backend class (console in development, SMTP in production).
MAILERS: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")}
}
if MAILERS["default"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend":  # a mailer's SMTP needs a host
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"), "port": env_int("EMAIL_PORT", 587, minimum=1, maximum=65535),
        "username": env_str("EMAIL_HOST_USER", ""), "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True), "timeout": env_int("EMAIL_TIMEOUT_S", 10, minimum=1),
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Freewheel <no-reply@freewheel.local>")
SMS_BACKEND = env_str("SMS_BACKEND", "accounts.sms.ConsoleSmsBackend")
# Region of phone numbers typed without a country code in staff searches ("015100000001" in Germany).
PHONENUMBER_DEFAULT_REGION = env_str("PHONENUMBER_DEFAULT_REGION", "DE").upper()
# Mobile push of notifications (docs/accounts.md "Push notifications"): accounts.fcm.FcmPushBackend in production;
# the default only logs (refused with DEBUG off, core.checks).
PUSH_BACKEND = env_str("PUSH_BACKEND", "accounts.push.LogPushBackend")
# FCM HTTP v1: the service account key (JSON; its token_uri is where the OAuth2 token comes from), the Firebase
# project (empty: the key's project_id) and the API's origin (a stand-in server in tests).
FCM_CREDENTIALS_FILE = env_str("FCM_CREDENTIALS_FILE", "")
FCM_PROJECT_ID = env_str("FCM_PROJECT_ID", "")
FCM_ENDPOINT = env_str("FCM_ENDPOINT", "https://fcm.googleapis.com").rstrip("/")
FCM_TIMEOUT_S = env_int("FCM_TIMEOUT_S", 10, minimum=1, maximum=60)
# A push that failed for a passing reason (429, 5xx, network) is tried again after PUSH_RETRY_BACKOFF_S, then twice
# that, ... (or the provider's Retry-After if longer), at most PUSH_MAX_ATTEMPTS times in all.
PUSH_MAX_ATTEMPTS = env_int("PUSH_MAX_ATTEMPTS", 6, minimum=1, maximum=20)
PUSH_RETRY_BACKOFF_S = env_int("PUSH_RETRY_BACKOFF_S", 15, minimum=1)
PASSWORD_RESET_URL = env_str("PASSWORD_RESET_URL", "freewheel://password-reset?uid={uid}&token={token}")

# --- REST API -------------------------------------------------------------------------------------------
# Reverse proxies in front of the app: who the client is (core.clientip, docs/security.md). 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],  # bounded depth and size (docs/security.md)
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env_str("THROTTLE_AUTH", "20/min"),
        "otp": env_str("THROTTLE_OTP", "5/min"),
        "otp_verify": env_str("THROTTLE_OTP_VERIFY", "10/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 30, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": SECRET_KEY,
    "USER_AUTHENTICATION_RULE": "accounts.auth.user_authentication_rule",
    "CHECK_REVOKE_TOKEN": True,  # a password change ends access tokens too (accounts.auth)
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Freewheel API",
    "DESCRIPTION": "REST API for riders' apps, vehicles and operators of shared micromobility fleets.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.schema.add_links",
                             "core.schema.name_request_components", "core.schema.reference_parameter_enums"],
    # Each enum component is named after what it is (a generated client's type): several serializers have a "kind",
    # "state" or "status" field with different choices, which drf-spectacular would name by field and hash.
    # A nullable enum is the enum and "nullable": no NullEnum / BlankEnum components beside it (generators make
    # them types of their own, an app developer's noise).
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    "ENUM_NAME_OVERRIDES": {
        "CommandKindEnum": "fleet.models.commands.CommandKind",
        "DevicePlatformEnum": "accounts.models.DevicePlatform",
        "NotificationCategoryEnum": "accounts.models.NotificationCategory",
        "PushProviderEnum": "accounts.models.PushProvider",
        "CommandStateEnum": "fleet.models.commands.CommandState",
        "OpsAlertKindEnum": "fleet.models.ops.OpsAlertKind",
        "OpsAlertSeverityEnum": "fleet.models.ops.OpsAlertSeverity",
        "OpsTaskKindEnum": "fleet.models.ops.OpsTaskKind",
        "OpsTaskConditionEnum": "fleet.models.ops.OpsTaskCondition",
        "OpsTaskStateEnum": "fleet.models.ops.OpsTaskState",
        "OpsTaskPriorityEnum": "fleet.models.ops.OpsTaskPriority",
        "OpsTaskOutcomeEnum": ["done", "not_done", "cancelled"],
        "PaymentPurposeEnum": "billing.models.payments.Payment.Purpose",
        "PaymentStatusEnum": "billing.models.payments.Payment.Status",
        "ProblemCategoryEnum": "rides.models.ProblemReport.Category",
        "RideStateEnum": "rides.models.RideState",
        "ReservationStateEnum": "rides.models.Reservation.State",
        "ReservationCloseReasonEnum": ["hold_expired", "ride_started", "rider_cancelled"],
        "RideRequirementCodeEnum": ["outstanding_debt", "payment_method_required", "date_of_birth_required"],
        "TelemetryAlarmEnum": ["tipped_over", "tamper"],
        "UserStatusEnum": "accounts.models.User.Status",  # UserOut and MeOut share it
        "LanguageEnum": LANGUAGES,
    },
}

IDEMPOTENCY_KEY_TTL = timedelta(hours=env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=1))

# --- Celery ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "celery")
CELERY_TIMEZONE = "UTC"
# The sweep that charges a ride whose process died between its end and its charge (docs/operations.md).
RIDES_CHARGE_SWEEP_S = env_int("RIDES_CHARGE_SWEEP_S", 60, minimum=10)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "idempotency-purge": {"task": "core.tasks.idempotency_purge", "schedule": 3600.0},
    "accounts-phone-otp-purge": {"task": "accounts.tasks.phone_otp_purge", "schedule": 3600.0},
    "accounts-tokens-flush": {"task": "accounts.tasks.tokens_flush_expired", "schedule": 86400.0},
    "accounts-push-deliveries-due": {"task": "accounts.tasks.push_deliveries_due", "schedule": 30.0},
    "accounts-push-deliveries-purge": {"task": "accounts.tasks.push_deliveries_purge", "schedule": 86400.0},
    "fleet-commands-expire": {"task": "fleet.tasks.commands_expire_overdue", "schedule": 5.0},
    "rides-sweep-commands": {"task": "rides.tasks.rides_sweep_commands", "schedule": 10.0},
    "rides-reservations-expire": {"task": "rides.tasks.reservations_expire", "schedule": 15.0},
    "rides-auto-end": {"task": "rides.tasks.rides_auto_end", "schedule": 60.0},
    "rides-charge-pending": {"task": "rides.tasks.rides_charge_pending", "schedule": float(RIDES_CHARGE_SWEEP_S)},
    "billing-orphan-holds-void": {"task": "billing.tasks.orphan_holds_void", "schedule": 300.0},
    # Every night at 02:30 UTC, once per night however often it fires; a mismatch emails finance (docs/billing.md).
    "billing-reconcile-nightly": {"task": "billing.tasks.reconcile_nightly", "schedule": crontab(hour=2, minute=30)},
    "telemetry-liveness-sweep": {"task": "telemetry.tasks.liveness_sweep", "schedule": 60.0},
}

# --- Fleet (docs/fleet.md) ------------------------------------------------------------------------------
FLEET_LOW_BATTERY_PCT = env_int("FLEET_LOW_BATTERY_PCT", 15, minimum=0, maximum=100)
FLEET_CHARGED_BATTERY_PCT = env_int("FLEET_CHARGED_BATTERY_PCT", 40, minimum=0, maximum=100)
FLEET_DEFAULT_SPEED_LIMIT_KPH = env_int("FLEET_DEFAULT_SPEED_LIMIT_KPH", 25, minimum=1, maximum=100)
FLEET_POSITION_STALE_S = env_int("FLEET_POSITION_STALE_S", 900, minimum=1)
FLEET_NEARBY_DEFAULT_RADIUS_M = env_int("FLEET_NEARBY_DEFAULT_RADIUS_M", 500, minimum=1)
FLEET_NEARBY_MAX_RADIUS_M = env_int("FLEET_NEARBY_MAX_RADIUS_M", 2000, minimum=1, maximum=20_000)
FLEET_NEARBY_LIMIT = env_int("FLEET_NEARBY_LIMIT", 50, minimum=1, maximum=500)
FLEET_MOVING_SPEED_KPH = env_int("FLEET_MOVING_SPEED_KPH", 3, minimum=0)
FLEET_COMMAND_ACK_TIMEOUT_S = env_int("FLEET_COMMAND_ACK_TIMEOUT_S", 20, minimum=1)
FLEET_CREDENTIAL_CACHE_S = env_int("FLEET_CREDENTIAL_CACHE_S", 60, minimum=1)
# The admin's compliance page: a parked vehicle with no event for this many days counts as idle (docs/console.md).
FLEET_IDLE_DAYS = env_int("FLEET_IDLE_DAYS", 3, minimum=1, maximum=365)
VEHICLE_GATEWAY = env_str("VEHICLE_GATEWAY", "fleet.gateway.SimulatedGateway")
VEHICLE_GATEWAY_SIM_MODE = env_str("VEHICLE_GATEWAY_SIM_MODE", "ack")
VEHICLE_GATEWAY_SIM_LAG_S = env_int("VEHICLE_GATEWAY_SIM_LAG_S", 0, minimum=0)
# Ops alerts beyond the admin (docs/fleet.md#alerts): a vehicle moving without a trip, delivery and rate limiting.
FLEET_IDLE_REBALANCE_H = env_int("FLEET_IDLE_REBALANCE_H", 48, minimum=1)
ALERT_MOVEMENT_SPEED_KPH = env_int("ALERT_MOVEMENT_SPEED_KPH", 8, minimum=1)
ALERT_MOVEMENT_DISTANCE_M = env_int("ALERT_MOVEMENT_DISTANCE_M", 50, minimum=5)
ALERT_MOVEMENT_CLEAR_S = env_int("ALERT_MOVEMENT_CLEAR_S", 300, minimum=0)
ALERT_DIGEST_WINDOW_S = env_int("ALERT_DIGEST_WINDOW_S", 60, minimum=1)
ALERT_IMMEDIATE_PER_WINDOW = env_int("ALERT_IMMEDIATE_PER_WINDOW", 1, minimum=0)
ALERT_WEBHOOK_TIMEOUT_S = env_int("ALERT_WEBHOOK_TIMEOUT_S", 10, minimum=1)
ALERT_DELIVERY_MAX_ATTEMPTS = env_int("ALERT_DELIVERY_MAX_ATTEMPTS", 6, minimum=1)
ALERT_DELIVERY_BACKOFF_S = env_int("ALERT_DELIVERY_BACKOFF_S", 10, minimum=0)
# Webhooks to loopback and private addresses (a receiver on this machine or network): development and tests only.
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", DEBUG)
CELERY_BEAT_SCHEDULE |= {
    "fleet-alerts-sweep": {"task": "fleet.tasks.ops_alerts_sweep", "schedule": 60.0},
    "fleet-alert-deliveries-due": {"task": "fleet.tasks.alert_deliveries_due", "schedule": 15.0},
}

# --- Billing (docs/billing.md) ----------------------------------------------------------------------------
# With DEBUG off the test PSP is refused at start-up unless ALLOW_FAKE_SERVICES names it (core.checks), and its
# webhook secret has no default: the development one is public.
BILLING_PROVIDER = env_str("BILLING_PROVIDER", "testpsp")
BILLING_TESTPSP_WEBHOOK_SECRET = env_str(
    "BILLING_TESTPSP_WEBHOOK_SECRET", "whsec_testpsp_dev_only" if (DEBUG or TESTING) else ""
)
STRIPE_API_KEY = env_str("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
BILLING_MIN_WALLET_BALANCE = env_decimal("BILLING_MIN_WALLET_BALANCE", "1.00")
BILLING_MAX_TOP_UP = env_decimal("BILLING_MAX_TOP_UP", "500.00")
BILLING_MIN_TOP_UP = env_decimal("BILLING_MIN_TOP_UP", "5.00")
# Goodwill credit and refunds above this need billing.approve_large_credit (roles finance, admin).
BILLING_STAFF_APPROVAL_LIMIT = env_decimal("BILLING_STAFF_APPROVAL_LIMIT", "50.00")
BILLING_CAPTURE_RETRIES = env_int("BILLING_CAPTURE_RETRIES", 3, minimum=1, maximum=10)

# --- Rides (docs/rides.md) --------------------------------------------------------------------------------
# An unlock that is not acknowledged within this many seconds cancels the ride (nothing charged).
RIDES_UNLOCK_TTL_S = env_int("RIDES_UNLOCK_TTL_S", 60, minimum=5)
# A lock (end) that is not acknowledged within this many seconds puts the ride back to active.
RIDES_LOCK_TTL_S = env_int("RIDES_LOCK_TTL_S", 60, minimum=5)
# Points kept in the simplified GeoJSON track of a ride's detail (Douglas-Peucker tolerance in metres).
RIDES_TRACK_SIMPLIFY_M = env_int("RIDES_TRACK_SIMPLIFY_M", 5, minimum=0)

# --- Telemetry pipeline: HTTP edge, Redis Streams, batch workers, history (docs/telemetry.md) -------------
TELEMETRY_SHARDS = env_int("TELEMETRY_SHARDS", 8, minimum=1, maximum=256)
TELEMETRY_STREAM_PREFIX = env_str("TELEMETRY_STREAM_PREFIX", "telemetry")
TELEMETRY_QUEUE = env_str("TELEMETRY_QUEUE", "telemetry")
TELEMETRY_BATCH_SIZE = env_int("TELEMETRY_BATCH_SIZE", 4000, minimum=1)
TELEMETRY_BATCH_ENOUGH = env_int("TELEMETRY_BATCH_ENOUGH", 1500, minimum=1)
TELEMETRY_MAX_BACKLOG = env_int("TELEMETRY_MAX_BACKLOG", 200_000, minimum=1)
TELEMETRY_DRAINERS = env_int("TELEMETRY_DRAINERS", 6, minimum=1)
TELEMETRY_SHARD_REST_MS = env_int("TELEMETRY_SHARD_REST_MS", 100, minimum=0, maximum=5000)
TELEMETRY_DRAIN_SECONDS = env_int("TELEMETRY_DRAIN_SECONDS", 10, minimum=1)
TELEMETRY_RECLAIM_IDLE_S = env_int("TELEMETRY_RECLAIM_IDLE_S", 30, minimum=1)
TELEMETRY_LEASE_MS = env_int("TELEMETRY_LEASE_MS", 3000, minimum=300, maximum=60_000)
TELEMETRY_BACKOFF_MAX_MS = env_int("TELEMETRY_BACKOFF_MAX_MS", 1000, minimum=10, maximum=30_000)
TELEMETRY_MAX_REQUEST_MESSAGES = env_int("TELEMETRY_MAX_REQUEST_MESSAGES", 1000, minimum=1)
TELEMETRY_MAX_AGE_S = env_int("TELEMETRY_MAX_AGE_S", 7 * 86_400, minimum=60)
TELEMETRY_MAX_FUTURE_S = env_int("TELEMETRY_MAX_FUTURE_S", 300, minimum=0)
TELEMETRY_PARTITIONS_AHEAD_DAYS = env_int("TELEMETRY_PARTITIONS_AHEAD_DAYS", 3, minimum=1)
TELEMETRY_RETENTION_DAYS = env_int("TELEMETRY_RETENTION_DAYS", 90, minimum=1)
# reclaim on the default queue: behind the telemetry queue's long drain tasks it would wait for one to end.
CELERY_TASK_ROUTES = {"telemetry.tasks.reclaim": {"queue": CELERY_TASK_DEFAULT_QUEUE},
                      "telemetry.tasks.*": {"queue": TELEMETRY_QUEUE}}
CELERY_BEAT_SCHEDULE |= {
    "telemetry-drain-kick": {"task": "telemetry.tasks.drain_kick", "schedule": 5.0},
    "telemetry-reclaim": {"task": "telemetry.tasks.reclaim", "schedule": 30.0},
    "telemetry-partitions": {"task": "telemetry.tasks.partitions_ensure", "schedule": 3600.0},
}

# --- Telemetry: MQTT bridge, command gateway, liveness (docs/telemetry-mqtt.md) --------------------------
MQTT_URL = env_str("MQTT_URL", "mqtt://127.0.0.1:1883")
MQTT_TOPIC_PREFIX = env_str("MQTT_TOPIC_PREFIX", "")
MQTT_CLIENT_ID = env_str("MQTT_CLIENT_ID", "freewheel-telemetry-bridge")
MQTT_SHARED_GROUP = env_str("MQTT_SHARED_GROUP", "")
MQTT_AUTH_CACHE_S = env_int("MQTT_AUTH_CACHE_S", 30, minimum=0, maximum=300)
MQTT_BATCH_MAX = env_int("MQTT_BATCH_MAX", 2000, minimum=1)
MQTT_BATCH_WAIT_MS = env_int("MQTT_BATCH_WAIT_MS", 20, minimum=1)
TELEMETRY_COMMS_LOST_S = env_int("TELEMETRY_COMMS_LOST_S", 600, minimum=30)
TELEMETRY_MISSING_AFTER_S = env_int("TELEMETRY_MISSING_AFTER_S", 86_400, minimum=60)
TELEMETRY_MISSING_AFTER_S_BY_CITY = env_list("TELEMETRY_MISSING_AFTER_S_BY_CITY", [])
TELEMETRY_LIVENESS_BATCH = env_int("TELEMETRY_LIVENESS_BATCH", 2000, minimum=1)

# --- Channels and live pushes (docs/live.md) --------------------------------------------------------------
_CHANNEL_LAYER_BACKENDS = {
    "pubsub": "core.layers.PubSubLayer",  # channels_redis pub/sub + batched sync sends: one PUBLISH per push (docs/live.md)
    "core": "channels_redis.core.RedisChannelLayer",
}
CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER_BACKEND", "pubsub")
if CHANNEL_LAYER_BACKEND not in _CHANNEL_LAYER_BACKENDS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"CHANNEL_LAYER_BACKEND must be one of {sorted(_CHANNEL_LAYER_BACKENDS)}")
CHANNEL_LAYER_PREFIX = env_str("CHANNEL_LAYER_PREFIX", "freewheel")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _CHANNEL_LAYER_BACKENDS[CHANNEL_LAYER_BACKEND],
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
    }
}
LIVE_FLEET_INTERVAL_MS = env_int("LIVE_FLEET_INTERVAL_MS", 1000, minimum=50)
LIVE_SNAPSHOT_PART = env_int("LIVE_SNAPSHOT_PART", 2000, minimum=100, maximum=5000)
LIVE_RIDE_INTERVAL_MS = env_int("LIVE_RIDE_INTERVAL_MS", 1000, minimum=0)
LIVE_HEARTBEAT_S = env_int("LIVE_HEARTBEAT_S", 20, minimum=1)
LIVE_PONG_TIMEOUT_S = env_int("LIVE_PONG_TIMEOUT_S", 20, minimum=1)
LIVE_SEND_BUFFER_KB = env_int("LIVE_SEND_BUFFER_KB", 512, minimum=16)
LIVE_TICKET_TTL_S = env_int("LIVE_TICKET_TTL_S", 30, minimum=5, maximum=300)
LIVE_METRICS_FLUSH_S = env_int("LIVE_METRICS_FLUSH_S", 5, minimum=1)
# Where the admin's fleet map opens its socket, e.g. wss://ws.example.com; empty: the page's own origin (the proxy
# sends /ws/ to daphne). Also added to the map page's Content-Security-Policy connect-src (docs/console.md).
CONSOLE_MAP_SOCKET_ORIGIN = env_str("CONSOLE_MAP_SOCKET_ORIGIN", "").rstrip("/")
# The sockets' Prometheus figures live in Redis under the channel layer's prefix (one deployment, one prefix).
LIVE_METRICS_PREFIX = CHANNEL_LAYER_PREFIX

# --- MDS Provider API for regulators (docs/mds.md) -------------------------------------------------------
# The provider_id of every MDS record: the UUID this operator registered in MDS's providers.csv. The default is a
# placeholder for development and tests.
MDS_PROVIDER_ID = env_str("MDS_PROVIDER_ID", "6f0a4a2e-5d43-4c1e-9b7a-3e1f0d2c9a51").strip().lower()
if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", MDS_PROVIDER_ID):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"MDS_PROVIDER_ID must be a UUID (8-4-4-4-12 hex digits), got {MDS_PROVIDER_ID!r}")
# A past hour's /trips and /events/historical answer 202 (not yet complete) for this long after it ended: a late
# device report or a lock acknowledged late may still land in it.
MDS_HOUR_GRACE_S = env_int("MDS_HOUR_GRACE_S", 300, minimum=0, maximum=86_400)

# --- GBFS feeds (docs/gbfs.md) ----------------------------------------------------------------------------
# Scheme and host the feeds' links start with (gbfs.json, manifest), e.g. https://api.freewheel.example; empty:
# the request's own (fine behind a proxy that passes the public Host and X-Forwarded-Proto).
GBFS_BASE_URL = env_str("GBFS_BASE_URL", "").rstrip("/")

# --- Ops console: the admin home's KPI dashboard (docs/console.md) -----------------------------------------
# Each beat run rebuilds every city's hourly rollup from this many hours before its watermark: rows committed late
# (a ride ended inside a long transaction) land in an hour already rolled up.
CONSOLE_ROLLUP_LOOKBACK_HOURS = env_int("CONSOLE_ROLLUP_LOOKBACK_HOURS", 3, minimum=1, maximum=24 * 31)
CELERY_BEAT_SCHEDULE["console-rollups-refresh"] = {"task": "console.tasks.rollups_refresh", "schedule": 300.0}

# --- Security when not in DEBUG (docs/security.md) ------------------------------------------------------------
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and not TESTING)
# Behind a TLS proxy: plain HTTP is redirected, except the probes and scrapes that reach the app directly.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preload asks browsers' built-in lists to hard-code HTTPS for the domain, which is slow to undo: the operator's
# choice, off by default, so Django's deploy reminder about it (W021) is silenced while it is off.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Django's own Content-Security-Policy (6.0+): the admin, the HTML receipt and Swagger UI load only their own files;
# the inline <style> of the receipt carries the request's nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", *map_tile_origins(MAP_TILE_URL)],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Browser origins allowed to call /api/ (a web dashboard), e.g. https://ops.example.com; empty: no cross-origin.
# Bearer tokens, not cookies, so no credentials mode.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")

# /metrics, /readyz detail and the API docs off DEBUG (core.access, docs/security.md): a bearer token or a network.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
OPS_ALLOWED_NETWORKS = env_networks("OPS_ALLOWED_NETWORKS", [
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
])
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

# With DEBUG off, start-up refuses every fake service not named here (core.checks, docs/security.md). The test
# suite runs on the fakes by design, and pytest-django turns DEBUG off in every test: a test that imports
# config.asgi (the live tests) must not be refused, so under pytest they are all allowed unless the variable says.
FAKE_SERVICES = ("testpsp", "gateway", "sms", "push", "email")
ALLOW_FAKE_SERVICES = env_list("ALLOW_FAKE_SERVICES", list(FAKE_SERVICES) if TESTING else [])
if unknown_fakes := sorted(set(ALLOW_FAKE_SERVICES) - set(FAKE_SERVICES)):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"ALLOW_FAKE_SERVICES: unknown {unknown_fakes}, known: {', '.join(FAKE_SERVICES)}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # "django": no handler of its own (Django's default adds one in DEBUG), so each line is printed once, by root.
    "loggers": {"django": {"handlers": [], "level": "INFO"}, "django.db.backends": {"level": "WARNING"},
                "django.request": {"filters": ["edge_refusals"]}},
    # The telemetry edge's 503s (backpressure, Redis away) are logged by telemetry.refusals, once per interval.
    "filters": {"edge_refusals": {"()": "core.logging.DropResponses", "statuses": [503],
                                  "url_names": ["telemetry-ingest"]}},
}
