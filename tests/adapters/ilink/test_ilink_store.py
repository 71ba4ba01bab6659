"""The iLink bot token at rest: sealed (AES-GCM, a key derived from the instance's
secret), an old plain value read and sealed in its place, a value sealed under
another secret or changed refused without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.ilink import store as kv
from bot.auth.sealed import SealError, seal, unseal
from bot.settings import Settings

TOKEN = "bot-token-5f1c2a"


def settings(tmp_path: Path, secret: str | None = None) -> Settings:
    return Settings.model_validate(
        {"data_dir": str(tmp_path / "data"), "auth": {"jwt_secret": secret or ""}}
    )


async def test_token_is_sealed_at_rest(tmp_path: Path, store_db: str) -> None:
    own = settings(tmp_path)  # the generated secret.key
    await kv.set_token(own, TOKEN)
    stored = await kv.get_value(kv.TOKEN_KEY)
    assert stored is not None
    assert stored.startswith("sealed:v1:")
    assert TOKEN not in stored
    assert await kv.get_token(own) == TOKEN
    assert await kv.get_token(settings(tmp_path)) == TOKEN  # the same secret.key
    await kv.set_token(own, TOKEN)
    assert await kv.get_value(kv.TOKEN_KEY) != stored  # a fresh nonce each time


async def test_plain_token_is_read_then_sealed(tmp_path: Path, store_db: str) -> None:
    own = settings(tmp_path, "instance-secret-a")
    await kv.set_value(kv.TOKEN_KEY, TOKEN)  # as older versions stored it
    assert await kv.get_token(own) == TOKEN
    stored = await kv.get_value(kv.TOKEN_KEY)
    assert stored is not None
    assert TOKEN not in stored
    assert await kv.get_token(own) == TOKEN


async def test_other_secret_or_changed_value_does_not_open(
    tmp_path: Path, store_db: str
) -> None:
    await kv.set_token(settings(tmp_path, "instance-secret-a"), TOKEN)
    assert await kv.get_token(settings(tmp_path, "instance-secret-b")) is None
    stored = await kv.get_value(kv.TOKEN_KEY)
    assert stored is not None
    flipped = stored[:-3] + ("A" if stored[-3] != "A" else "B") + stored[-2:]
    await kv.set_value(kv.TOKEN_KEY, flipped)
    assert await kv.get_token(settings(tmp_path, "instance-secret-a")) is None
    for broken in ("sealed:v1:", "sealed:v1:!!!", "sealed:v1:AAAA"):
        await kv.set_value(kv.TOKEN_KEY, broken)
        assert await kv.get_token(settings(tmp_path, "instance-secret-a")) is None


def test_a_purpose_opens_only_its_own_values(tmp_path: Path) -> None:
    own = settings(tmp_path, "instance-secret-a")
    value = seal(own, "ilink:token", "\ud800 x")  # a lone surrogate round-trips
    assert unseal(own, "ilink:token", value) == "\ud800 x"
    with pytest.raises(SealError):
        unseal(own, "other:purpose", value)
