"""Reads of the billing app, one module per area (``wallet``, ``rides``, ``passes``, ``tariffs``,
``revenue``).

What other apps use is re-exported here (``from billing import selectors``); billing's own modules import the
module they need (``from billing.selectors import wallet as wallet_selectors``)."""

from billing.selectors.finance import MoneySums
from billing.selectors.revenue import RevenueHour, revenue_by_hour
from billing.selectors.rides import (
    ride_billing_get,
    ride_ids_awaiting_charge,
    ride_payments,
    ride_refunds,
)
from billing.selectors.tariffs import current_plan_ids, gbfs_pricing_plans, tariff_for_ride
from billing.selectors.wallet import RiderMoney, rider_can_start_ride, rider_money, wallet_balance

__all__ = [
    "MoneySums",
    "RevenueHour",
    "RiderMoney",
    "current_plan_ids",
    "gbfs_pricing_plans",
    "revenue_by_hour",
    "ride_billing_get",
    "ride_ids_awaiting_charge",
    "ride_payments",
    "ride_refunds",
    "rider_can_start_ride",
    "rider_money",
    "tariff_for_ride",
    "wallet_balance",
]
