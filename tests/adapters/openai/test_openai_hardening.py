"""The OpenAI front door under hostile use (issue 11): the ``user`` field stays
inside the key owner's sessions (F2), a key whose user is gone is a 401 (F8),
lone surrogates are replaced (F1)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest

from adapters.openai.adapter import session_key
from tests.fakes.openai_stub import OpenAIStub

PASSWORD = "correct horse battery"


@pytest.fixture
async def bot(bot_process: Any) -> Any:
    bp = await bot_process({"plugins": {"chat": {}, "history": {}}})
    keys = {}
    for name in ("alice", "bob"):
        bp.cli("user", "add", name, input=PASSWORD + "\n")
        keys[name] = bp.cli("token", "create", "--user", name)
    bp.keys = keys
    return bp


async def _ask(
    bot: Any, key: str, text: str, user: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": text}],
    }
    if user is not None:
        body["user"] = user
    async with httpx.AsyncClient(base_url=bot.base_url, timeout=30) as client:
        return await client.post(
            "/v1/chat/completions",
            content=json.dumps(body),  # ensure_ascii: a lone surrogate as "\ud83d"
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )


def _prompt(stub: OpenAIStub) -> str:
    return json.dumps(stub.requests[-1]["messages"], ensure_ascii=False)


async def test_user_field_is_scoped_to_the_key_owner(
    bot: Any, openai_stub: OpenAIStub
) -> None:
    openai_stub.set_default("noted")
    alice, bob = bot.keys["alice"], bot.keys["bob"]
    assert (await _ask(bot, alice, "alice-private-note", user="bob")).status_code == 200
    assert (await _ask(bot, bob, "hello from bob")).status_code == 200
    assert "alice-private-note" not in _prompt(openai_stub)
    assert (await _ask(bot, bob, "bob again", user="bob")).status_code == 200
    assert "alice-private-note" not in _prompt(openai_stub)
    # bob's own history is his, and alice's end user "bob" keeps hers
    assert (await _ask(bot, bob, "and once more")).status_code == 200
    assert "hello from bob" in _prompt(openai_stub)
    assert (await _ask(bot, alice, "me again", user="bob")).status_code == 200
    prompt = _prompt(openai_stub)
    assert "alice-private-note" in prompt
    assert "hello from bob" not in prompt
    assert "bob again" not in prompt


async def test_lone_surrogate_is_replaced(bot: Any, openai_stub: OpenAIStub) -> None:
    openai_stub.set_default("ok")
    r = await _ask(bot, bot.keys["alice"], "x \ud83d y", user="u\udc00")
    assert r.status_code == 200, r.text
    assert openai_stub.requests[-1]["messages"][-1]["content"] == "x \ufffd y"
    assert (await _ask(bot, bot.keys["alice"], "later")).status_code == 200


async def test_key_of_a_vanished_user_is_401(bot: Any, openai_stub: OpenAIStub) -> None:
    openai_stub.set_default("ok")
    assert (await _ask(bot, bot.keys["bob"], "hi")).status_code == 200
    # the row is removed behind the bot's back (SQLite keeps the key: no FK checks)
    with sqlite3.connect(bot.data_dir / "freechat.db") as db:
        db.execute("DELETE FROM users WHERE name = 'bob'")
    r = await _ask(bot, bot.keys["bob"], "hi")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_session_keys_fit_their_column_and_stay_apart() -> None:
    owner = "a" * 64  # the longest user name
    keys = {session_key(owner, u) for u in ("u" * 128, "u" * 127 + "v", "bob", None)}
    assert len(keys) == 4
    assert all(len(k) <= 191 for k in keys)
    assert session_key("alice", "bob") == "openai:alice:bob"
    assert session_key("alice", None) == "openai:alice"
