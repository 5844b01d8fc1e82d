"""drf-spectacular: document accounts.auth.JWTAuthentication as the bearer JWT scheme simplejwt's is."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    target_class = "accounts.auth.JWTAuthentication"
