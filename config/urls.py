from typing import Any

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from console import compliance as console_compliance
from core import access
from core import views as core_views
from feeds.gbfs import preview as gbfs_preview

# Redoc styles its page with <style> elements it creates at run time and searches in a blob: worker.
_redoc_policy: dict[str, Any] = dict(settings.SECURE_CSP)
_redoc_policy |= {"style-src": [CSP.SELF, CSP.UNSAFE_INLINE], "worker-src": [CSP.SELF, "blob:"]}
_REDOC_CSP = csp_override(_redoc_policy)

api_v1 = [
    # First: the vehicles' hot path. Django records every pattern tried before the match, so the busiest
    # edge should be matched before any other pattern is tried.
    path("", include("telemetry.urls")),
    path("", include("accounts.urls")),
    path("", include("fleet.urls")),
    path("", include("billing.urls")),
    path("", include("rides.urls")),
    path("", include("live.urls")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", access.ops_only(core_views.metrics), name="metrics"),
    # The ops console's fleet map lives under the admin's URL and login (console/urls.py, docs/console.md).
    path("admin/map/", include("console.urls")),
    # Support's one page per rider, its search and actions (console/support, docs/console.md#support).
    path("admin/support/", include("console.support.urls")),
    # Ops pages of the admin that belong to no model (before the admin's own URLs, which would 404 them).
    path("admin/compliance/", admin.site.admin_view(console_compliance.compliance_view), name="admin-compliance"),
    path("admin/gbfs/zone-preview/", admin.site.admin_view(gbfs_preview.zone_gbfs_preview), name="gbfs-zone-preview"),
    path("admin/finance/", include("billing.admin_urls")),  # revenue, ledger, captures, debtors (docs/billing.md)
    path("admin/", admin.site.urls),
    # Field technicians' phone page: their tasks and nearby ones, notes, photos, closing (docs/fleet.md).
    path("ops/tasks/", include("fleet.page_urls")),
    # Uploaded photos, for staff only and with safe headers (core.views.media); never a static file route.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", core_views.media, name="media"),
    path("api/v1/", include(api_v1)),
    # City and public feeds: GBFS for trip planners, the MDS Provider API for regulators (docs/gbfs.md, docs/mds.md).
    path("gbfs/", include("feeds.gbfs.urls")),
    path("mds/", include("feeds.mds.urls")),
    # Not public off DEBUG unless API_DOCS_PUBLIC (core.access). Swagger UI's init script is a file of its own
    # (the split view), so the Content-Security-Policy needs no inline script.
    path("api/schema/", access.docs_only(SpectacularAPIView.as_view()), name="schema"),
    path("api/docs/", access.docs_only(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="swagger-ui"),
    path("api/redoc/", access.docs_only(_REDOC_CSP(SpectacularRedocView.as_view(url_name="schema"))), name="redoc"),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
