from django.urls import URLPattern, URLResolver, path, re_path

from feeds.gbfs import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("manifest.json", views.manifest, name="gbfs-manifest"),
    re_path(r"^(?P<prefix>v2|v3)/(?P<system_id>[A-Za-z0-9._@:-]{1,64})/(?P<name>[a-z_]+)\.json$", views.feed_file,
            name="gbfs-file"),
]
