"""Sign-in limits that stop guessing without letting anyone lock a user out.

- Failures are counted per (user name, client address): ``auth.login_attempts`` in
  5 minutes lock that pair, for 1 minute and twice as long at each repeat (up to an
  hour). Guessing from one address never locks the name for anyone else.
- One address trying many names is locked after four times as many failures.
- Only a spray, failures on one name from many addresses (ten times the limit in
  5 minutes), locks the name itself, with the same backoff, and even then not for
  addresses the user signed in from before ("known", kept 90 days).
- With the shared state degraded, sign-in is refused (fail closed).
"""

from __future__ import annotations

from bot.runtime import get_runtime
from bot.settings import Settings

from .exceptions import AuthError

WINDOW = 300.0
ADDRESS_FACTOR = 4
SPRAY_FACTOR = 10
FIRST_LOCK = 60.0
LONGEST_LOCK = 3600.0
STRIKES_TTL = 24 * 3600.0
KNOWN_TTL = 90 * 24 * 3600.0


def _keys(name: str, client: str) -> tuple[str, str, str, str]:
    name = name.lower()
    return (
        f"login:pair:{name}:{client}",
        f"login:addr:{client}",
        f"login:user:{name}",
        f"login:known:{name}:{client}",
    )


async def check_login_rate(settings: Settings, name: str, client: str) -> None:
    """Refuse while this pair, this address or (for unknown addresses) this name is
    locked; refuse all while the shared state is degraded."""
    state = get_runtime().state
    if state.degraded:
        raise AuthError("sign-in is unavailable right now, try again shortly", 503)
    pair, addr, user, known = _keys(name, client)
    for key in (pair, addr):
        if await state.get(f"{key}:locked"):
            raise AuthError("too many failed sign-in attempts, try again later", 429)
    if await state.get(f"{user}:locked") and not await state.get(known):
        raise AuthError("too many failed sign-in attempts, try again later", 429)


async def _lock(key: str, limit: int) -> None:
    state = get_runtime().state
    result = await state.hit(key, limit, WINDOW)
    if result.remaining == 0 or not result.allowed:
        strikes = await state.incr(f"{key}:strikes", ttl=STRIKES_TTL)
        ttl = min(FIRST_LOCK * 2 ** min(strikes - 1, 16), LONGEST_LOCK)
        await state.set(f"{key}:locked", "1", ttl=ttl)
        await state.delete(key)  # the next lock needs a full new count


async def record_login_failure(settings: Settings, name: str, client: str) -> None:
    """Count a failed attempt against the pair, the address and the name."""
    pair, addr, user, _known = _keys(name, client)
    limit = settings.auth.login_attempts
    await _lock(pair, limit)
    await _lock(addr, limit * ADDRESS_FACTOR)
    await _lock(user, limit * SPRAY_FACTOR)


async def record_login_success(name: str, client: str) -> None:
    """Remember the address as known for the name; forget the pair's failures."""
    state = get_runtime().state
    pair, _addr, _user, known = _keys(name, client)
    await state.set(known, "1", ttl=KNOWN_TTL)
    await state.delete(pair)
