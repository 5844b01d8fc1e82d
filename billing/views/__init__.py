"""Billing HTTP edge, one module per area (``wallet``, ``webhooks``, ``tariffs``, ``passes``, ``ops``): parse,
call one service or selector, serialize. Routed in ``billing.urls``."""
