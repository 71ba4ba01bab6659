"""Roles of web users and what each may do in the admin API.

| resource                                   | admin      | operator   | user |
|--------------------------------------------|------------|------------|------|
| overview, adapters, providers (read)       | read       | read       | -    |
| groups, personas, keywords, sensitive words | read/write | read/write | -    |
| budgets, bans, platform users seen         | read/write | read/write | -    |
| users, API keys, audit log, logs, docs     | read/write | -          | -    |
| personal WeChat (iLink) QR login           | read/write | -          | -    |
| plugins (list, switches, install, remove)  | read/write | -          | -    |

Providers come from the settings or Consul: the API shows them, nobody changes them
there.

``user`` is a web-chat user with no access to the admin API. ``User.is_admin`` stays
equal to ``role == "admin"`` (it decides whether the one-time setup link is offered).
"""

from __future__ import annotations

from typing import Literal

from bot.store.models import User

from .exceptions import AuthError

Role = Literal["admin", "operator", "user"]
ROLES: tuple[Role, ...] = ("admin", "operator", "user")
#: roles that may use the admin API at all (the operator's part of it)
CONSOLE_ROLES: frozenset[str] = frozenset({"admin", "operator"})


def role_of(user: User) -> Role:
    role = str(user.role or "user")
    if user.is_admin:
        return "admin"
    return role if role in ROLES else "user"  # type: ignore[return-value]


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AuthError(f"a role is one of {', '.join(ROLES)}", 400)
    return role  # type: ignore[return-value]


async def set_role(user: User, role: str) -> None:
    """Give ``user`` the ``role`` (and keep ``is_admin`` in step)."""
    user.role = check_role(role)
    user.is_admin = role == "admin"
    await user.save(update_fields=["role", "is_admin"])
