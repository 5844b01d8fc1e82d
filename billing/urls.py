from django.urls import URLPattern, URLResolver, path

from billing import views, views_ops, views_passes, views_tariffs

urlpatterns: list[URLPattern | URLResolver] = [
    path("wallet", views.WalletGetView.as_view(), name="billing-wallet"),
    path("wallet/top-ups", views.WalletTopUpView.as_view(), name="billing-wallet-top-up"),
    path("wallet/transactions", views.WalletTransactionListView.as_view(), name="billing-wallet-transactions"),
    path("payment-methods", views.PaymentMethodListView.as_view(), name="billing-payment-methods"),
    path("billing/webhooks/<slug:provider>", views.WebhookReceiveView.as_view(), name="billing-webhook"),
    path("tariffs", views_tariffs.TariffListView.as_view(), name="billing-tariffs"),
    path("tariffs/quote", views_tariffs.TariffQuoteView.as_view(), name="billing-tariff-quote"),
    path("tariffs/gbfs", views_tariffs.TariffGbfsPlansView.as_view(), name="billing-tariffs-gbfs"),
    path("passes/catalogue", views_passes.PassCatalogueView.as_view(), name="billing-pass-catalogue"),
    path("passes", views_passes.PassBuyView.as_view(), name="billing-pass-buy"),
    path("promo-codes/redeem", views_passes.PromoRedeemView.as_view(), name="billing-promo-redeem"),
    path("billing/rides/<uuid:ride_id>/refunds", views_ops.RideRefundView.as_view(), name="billing-ride-refund"),
    path("billing/rides/<uuid:ride_id>/receipt", views_ops.RideReceiptView.as_view(), name="billing-ride-receipt"),
    path("billing/rides/<uuid:ride_id>/receipt.html", views_ops.RideReceiptHtmlView.as_view(),
         name="billing-ride-receipt-html"),
    path("billing/goodwill", views_ops.GoodwillGrantView.as_view(), name="billing-goodwill"),
]
