from django.urls import URLPattern, URLResolver, path

from billing.views import ops, passes, tariffs, wallet, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("wallet", wallet.WalletGetView.as_view(), name="billing-wallet"),
    path("wallet/top-ups", wallet.WalletTopUpView.as_view(), name="billing-wallet-top-up"),
    path("wallet/settle", wallet.WalletSettleView.as_view(), name="billing-wallet-settle"),
    path("wallet/transactions", wallet.WalletTransactionListView.as_view(), name="billing-wallet-transactions"),
    path("payment-methods", wallet.PaymentMethodListView.as_view(), name="billing-payment-methods"),
    path("billing/webhooks/<slug:provider>", webhooks.WebhookReceiveView.as_view(), name="billing-webhook"),
    path("tariffs", tariffs.TariffListView.as_view(), name="billing-tariffs"),
    path("tariffs/quote", tariffs.TariffQuoteView.as_view(), name="billing-tariff-quote"),
    path("tariffs/gbfs", tariffs.TariffGbfsPlansView.as_view(), name="billing-tariffs-gbfs"),
    path("passes/catalogue", passes.PassCatalogueView.as_view(), name="billing-pass-catalogue"),
    path("passes", passes.PassBuyView.as_view(), name="billing-pass-buy"),
    path("promo-codes/redeem", passes.PromoRedeemView.as_view(), name="billing-promo-redeem"),
    path("billing/rides/<uuid:ride_id>/refunds", ops.RideRefundView.as_view(), name="billing-ride-refund"),
    path("billing/rides/<uuid:ride_id>/receipt", ops.RideReceiptView.as_view(), name="billing-ride-receipt"),
    path("billing/rides/<uuid:ride_id>/receipt.html", ops.RideReceiptHtmlView.as_view(),
         name="billing-ride-receipt-html"),
    path("billing/goodwill", ops.GoodwillGrantView.as_view(), name="billing-goodwill"),
]
