"""Accounts admin: users (search, filters, role groups, block/unblock with a reason) and notifications; ``lockout``
names the account an admin login tries for django-axes."""

from accounts.admin import lockout, push, users

__all__ = ["lockout", "push", "users"]
