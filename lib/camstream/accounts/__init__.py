"""Accounts (settings `login`, `users`, `auth.*`), plugged in when there is one: HTTP Digest
(RFC 7616) and Basic logins, each account an admin or a viewer (guard.py)."""
from .guard import Guard as plug  # noqa: F401
