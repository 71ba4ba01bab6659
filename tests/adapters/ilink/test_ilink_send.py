"""Proactive sends to iLink users against the fake iLink server: refused for a user
who never wrote (no context_token), sent with the user's latest token after."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.ilink import Adapter
from bot import send as sending
from bot.runtime import Runtime
from bot.send import SendRefused
from tests.adapters.ilink.fake_ilink import TOKEN
from tests.adapters.qq import adapter_harness as harness
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


async def test_needs_the_users_context_token(
    serve: Any, answerer: Any, fake: Any, store_db: str, send_runtime: Runtime
) -> None:
    await serve(
        Adapter,
        {"ilink_base_url": fake.base_url, "ilink_token": TOKEN, "ilink_typing": False},
    )
    with pytest.raises(SendRefused, match="no context_token for this user"):
        await sending.send("ilink:user:u1@im.wechat", "早上好")
    assert fake.sent == []
    fake.push("first")
    mid = fake.push("second")
    await harness.eventually(lambda: len(fake.sent) == 2)
    await sending.send("ilink:user:u1@im.wechat", "早上好")
    msg = fake.sent[-1]["msg"]
    assert msg["to_user_id"] == "u1@im.wechat"
    assert msg["context_token"] == f"ctx-{mid}"
    assert msg["item_list"] == [{"type": 1, "text_item": {"text": "早上好"}}]
