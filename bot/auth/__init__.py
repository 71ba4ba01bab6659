"""Authentication, a kernel service: users, argon2id passwords, JWT sessions with
double-submit CSRF tokens, API keys, login rate limits and the one-time setup link.
The web app, the OpenAI adapter and the CLI all use it; it knows no web framework."""

from __future__ import annotations

from .core import (
    CSRF_COOKIE,
    CSRF_HEADER,
    MIN_PASSWORD,
    SESSION_COOKIE,
    SESSIONS_CHANNEL,
    SETUP_TTL,
    TOKEN_PREFIX,
    Session,
    announce_setup_link,
    authenticate,
    check_csrf,
    create_api_token,
    create_user,
    hash_password,
    issue_session,
    needs_setup,
    revoke_session,
    signing_key,
    use_setup_token,
    user_for_api_token,
    verify_password,
    verify_session,
)
from .exceptions import AuthError
from .limits import check_login_rate, record_login_failure, record_login_success
from .roles import CONSOLE_ROLES, ROLES, Role, check_role, role_of, set_role

__all__ = [
    "CONSOLE_ROLES",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "MIN_PASSWORD",
    "ROLES",
    "SESSIONS_CHANNEL",
    "SESSION_COOKIE",
    "SETUP_TTL",
    "TOKEN_PREFIX",
    "AuthError",
    "Role",
    "Session",
    "announce_setup_link",
    "authenticate",
    "check_csrf",
    "check_login_rate",
    "check_role",
    "create_api_token",
    "create_user",
    "hash_password",
    "issue_session",
    "needs_setup",
    "record_login_failure",
    "record_login_success",
    "revoke_session",
    "role_of",
    "set_role",
    "signing_key",
    "use_setup_token",
    "user_for_api_token",
    "verify_password",
    "verify_session",
]
