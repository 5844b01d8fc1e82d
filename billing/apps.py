from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from accounts import signals as accounts_signals
        from billing import signals
        from billing.selectors import tariffs as tariff_selectors
        from fleet import selectors as fleet_selectors

        # Nearby vehicles carry the GBFS pricing plan id of their city's current tariff for their type.
        fleet_selectors.register_pricing_plan_resolver(tariff_selectors.pricing_plans_for)
        accounts_signals.user_deleting.connect(
            signals.refuse_deleting_a_rider_in_debt, dispatch_uid="billing.refuse_deleting_a_rider_in_debt"
        )
