from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """The public and city feeds: GBFS (``feeds.gbfs``) and the MDS Provider API (``feeds.mds``).

    Both are read-only views of what fleet, rides, billing and telemetry hold; they read through those apps'
    selectors and own only what the feeds themselves need: the GBFS systems and their alerts, MDS agencies, their
    credentials and the pull audit log.
    """

    name = "feeds"

    def ready(self) -> None:
        from feeds.gbfs import selectors as gbfs_selectors
        from feeds.mds import schema  # noqa: F401 - registers the OpenAPI description of the agency token
        from fleet import catalogue

        catalogue.register_gbfs_systems_resolver(gbfs_selectors.system_ids_by_city)
