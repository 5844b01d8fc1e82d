"""Billing API shapes, one module per area (``wallet``, ``passes``, ``tariffs``, ``ops``, ``webhooks``); the
money shape every one uses is in ``fields``. Class names are unique: they are the OpenAPI component names."""
