from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Nearby vehicles carry the GBFS pricing plan id of their city's current tariff for their type.
        from billing import selectors_tariffs
        from fleet import selectors as fleet_selectors

        fleet_selectors.register_pricing_plan_resolver(selectors_tariffs.pricing_plans_for)
