"""Authentication: argon2id passwords, JWT sessions in HttpOnly cookies with
double-submit CSRF tokens, per-user API keys, login rate limits, and the one-time
setup link that creates the first admin. There is no default password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError

from bot.runtime import get_runtime
from bot.settings import Settings
from bot.store.models import ApiToken, KeyValue, RevokedSession, User

from .exceptions import AuthError

log = logging.getLogger(__name__)

SESSION_COOKIE = "freechat_session"
CSRF_COOKIE = "freechat_csrf"
CSRF_HEADER = "x-csrf-token"
ALGORITHM = "HS256"
SETUP_KEY = "setup_token"
#: the change feed that tells every instance a session ended (``{"ended": jti}``)
SESSIONS_CHANNEL = "auth.sessions"
SETUP_TTL = 24 * 3600
TOKEN_PREFIX = "fc-"
MIN_PASSWORD = 8

_hasher = PasswordHasher()  # argon2id with the library's current parameters
#: verified against when the user does not exist, so timing does not tell
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AuthError(
            f"the password must have at least {MIN_PASSWORD} characters", 400
        )
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def signing_key(settings: Settings) -> str:
    """The configured JWT key, or one generated once and kept in the data dir."""
    if settings.auth.jwt_secret:
        return settings.auth.jwt_secret
    path = Path(settings.data_dir) / "secret.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Session:
    user: User
    jti: str
    expires_at: float


def issue_session(settings: Settings, user: User) -> tuple[str, str]:
    """A signed session token and a fresh CSRF token."""
    now = int(time.time())
    claims = {
        "sub": user.name,
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": now + settings.auth.session_ttl,
    }
    token = jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)
    return token, secrets.token_urlsafe(24)


async def verify_session(settings: Settings, token: str | None) -> Session:
    """The session of ``token``, or :class:`AuthError`."""
    if not token:
        raise AuthError("not signed in")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.PyJWTError:
        raise AuthError("invalid or expired session") from None
    if await RevokedSession.exists(jti=str(claims["jti"])):
        raise AuthError("session ended")
    user = await User.get_or_none(name=str(claims["sub"]))
    if user is None or user.disabled:
        raise AuthError("invalid session")
    return Session(user, str(claims["jti"]), float(claims["exp"]))


async def revoke_session(session: Session) -> None:
    expires = dt.datetime.fromtimestamp(session.expires_at, dt.UTC)
    await RevokedSession.get_or_create(
        jti=session.jti, defaults={"expires_at": expires}
    )
    await RevokedSession.filter(expires_at__lt=dt.datetime.now(dt.UTC)).delete()
    # every instance closes the sockets this session opened
    await get_runtime().state.publish(
        SESSIONS_CHANNEL, {"ended": session.jti, "user": session.user.name}
    )


def check_csrf(cookie: str | None, header: str | None) -> None:
    """Double-submit check: the header must echo the CSRF cookie."""
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise AuthError("missing or wrong CSRF token", 403)


async def authenticate(name: str, password: str) -> User:
    user = await User.get_or_none(name=name)
    if user is None or user.disabled:
        verify_password(_DUMMY_HASH, password)
        raise AuthError("wrong user name or password")
    if not verify_password(user.password_hash, password):
        raise AuthError("wrong user name or password")
    return user


def _valid_name(name: str) -> str:
    name = name.strip()
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in "._-" for c in name):
        raise AuthError("user names are 1-64 letters, digits, '.', '_' or '-'", 400)
    return name


async def create_user(
    name: str, password: str, *, is_admin: bool = False, role: str | None = None
) -> User:
    """Create a web user; ``role`` (``admin``/``operator``/``user``) wins over
    ``is_admin``."""
    name = _valid_name(name)
    role = role or ("admin" if is_admin else "user")
    if role not in ("admin", "operator", "user"):
        raise AuthError("a role is one of admin, operator, user", 400)
    try:
        return await User.create(
            name=name,
            password_hash=hash_password(password),
            is_admin=role == "admin",
            role=role,
        )
    except IntegrityError:
        raise AuthError(f"user {name} already exists", 409) from None


async def create_api_token(user_name: str, *, name: str = "") -> str:
    """Create an API key for ``user_name``; the key is shown once, only its hash kept."""
    user = await User.get_or_none(name=user_name)
    if user is None:
        raise AuthError(f"no user named {user_name}", 404)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        user=user, name=name, prefix=token[:10], token_hash=_sha256(token)
    )
    return token


async def user_for_api_token(token: str) -> User:
    if not token.startswith(TOKEN_PREFIX):
        raise AuthError("invalid API key")
    row = await ApiToken.get_or_none(token_hash=_sha256(token), revoked=False)
    # the user row may be gone (deleted by hand, or without cascade): a 401, never
    # an error from following a dangling key
    user = None
    if row is not None:
        user = await User.get_or_none(id=row.user_id)  # type: ignore[attr-defined]
    if user is None or user.disabled:
        raise AuthError("invalid API key")
    return user


async def needs_setup() -> bool:
    return not await User.filter(is_admin=True).exists()


async def announce_setup_link(settings: Settings) -> None:
    """With no admin yet, print a one-time link that creates the first one."""
    if not await needs_setup():
        return
    token = secrets.token_urlsafe(24)
    value = json.dumps({"hash": _sha256(token), "expires": time.time() + SETUP_TTL})
    await KeyValue.update_or_create(key=SETUP_KEY, defaults={"value": value})
    base = (
        settings.server.public_url
        or f"http://{settings.server.host}:{settings.server.port}"
    )
    log.warning(
        "No admin account exists. Create one with `freechat user add NAME --admin`, "
        "or open this one-time link within 24 h: %s/#/setup?token=%s",
        base.rstrip("/"),
        token,
    )


async def use_setup_token(token: str) -> None:
    """Consume the one-time setup token or raise."""
    row = await KeyValue.get_or_none(key=SETUP_KEY)
    if row is None or not await needs_setup():
        raise AuthError("setup is not available", 403)
    data = json.loads(row.value)
    if time.time() > float(data["expires"]) or not hmac.compare_digest(
        str(data["hash"]), _sha256(token)
    ):
        raise AuthError("invalid or expired setup link", 403)
    deleted = await KeyValue.filter(key=SETUP_KEY).delete()
    if not deleted:  # another request used it first
        raise AuthError("setup is not available", 403)
