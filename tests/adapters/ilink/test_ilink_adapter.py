"""The iLink adapter against a fake iLink server on loopback."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.ilink import Adapter, MessageEvent
from adapters.ilink import store as kv
from adapters.ilink.login import login
from tests.adapters.ilink.fake_ilink import TOKEN
from tests.adapters.qq import adapter_harness as harness


def cfg(fake: Any, **extra: Any) -> dict[str, Any]:
    return {
        "ilink_base_url": fake.base_url,
        "ilink_token": TOKEN,
        "ilink_min_interval": 0,
        "ilink_retry_delay": 0.1,
        **extra,
    }


async def test_answers_with_context_token_and_typing(
    serve: Any, answerer: Any, fake: Any, store_db: str
) -> None:
    served = await serve(Adapter, cfg(fake))
    answerer.delay = 0.5  # the model "thinks": typing shows meanwhile
    mid = fake.push("你好 iLink")
    await harness.eventually(lambda: len(fake.sent) == 1)
    msg = fake.sent[0]["msg"]
    assert msg["to_user_id"] == "u1@im.wechat"
    assert msg["context_token"] == f"ctx-{mid}"
    assert (msg["message_type"], msg["message_state"]) == (2, 2)
    assert msg["item_list"] == [{"type": 1, "text_item": {"text": "echo: 你好 iLink"}}]
    assert "base_info" in fake.sent[0]
    await harness.eventually(lambda: [t["status"] for t in fake.typing][-1:] == [2])
    assert fake.typing[0]["status"] == 1
    assert fake.bad_requests == []
    ctx = answerer.contexts[0]
    assert (ctx.platform, ctx.user_id, ctx.group_id) == ("ilink", "u1@im.wechat", None)
    assert served.adapter.status == "polling"


async def test_cursor_persisted_nothing_lost_or_answered_twice(
    serve: Any, answerer: Any, fake: Any, store_db: str
) -> None:
    first = await serve(Adapter, cfg(fake))
    dup_id = f"dup-{uuid.uuid4().hex}"
    fake.push("one")
    for _ in range(3):  # the same message delivered three times
        fake.push("dup", message_id=dup_id)
    await harness.eventually(lambda: len(fake.sent) == 2)
    await first.stop()
    cursor = await kv.get_value(kv.cursor_key("ilink"))
    assert cursor
    fake.push("while down")  # must not be lost
    second = await serve(Adapter, cfg(fake))
    await harness.eventually(lambda: len(fake.sent) == 3)
    await harness.eventually(lambda: fake.cursors[-1] != cursor)
    assert cursor in fake.cursors  # the restart resumed from the stored cursor
    assert sorted(fake.texts()) == ["echo: dup", "echo: one", "echo: while down"]
    assert second.adapter.status == "polling"


async def test_replayed_batch_is_not_answered_twice(
    serve: Any, answerer: Any, fake: Any, store_db: str
) -> None:
    served = await serve(Adapter, cfg(fake))
    fake.push("only once")
    await harness.eventually(lambda: len(fake.sent) == 1)
    await served.stop()
    # a crash before the cursor was stored: the next start sees the batch again
    await kv.delete_value(kv.cursor_key("ilink"))
    await serve(Adapter, cfg(fake))
    await harness.eventually(lambda: fake.cursors.count("") >= 2)
    await harness.eventually(lambda: len(fake.cursors) >= 4)
    assert fake.texts() == ["echo: only once"]


async def test_session_expired_stops_with_relogin_status(
    serve: Any, answerer: Any, fake: Any, store_db: str
) -> None:
    fake.expired = True
    served = await serve(Adapter, cfg(fake))
    await harness.eventually(lambda: served.adapter.status == "expired")
    await served.adapter.wait_stopped()
    assert served.adapter.bots == {}


async def test_not_logged_in_waits_for_login(
    serve: Any, answerer: Any, fake: Any, store_db: str
) -> None:
    served = await serve(Adapter, cfg(fake, ilink_token=None))
    assert served.adapter.status == "logged_out"
    assert fake.cursors == []


async def test_qr_login_stores_token_then_adapter_uses_it(
    serve: Any, answerer: Any, fake: Any, store_db: str, runtime: Any
) -> None:
    out = io.StringIO()
    token = await login(
        fake.base_url,
        settings=runtime.settings,
        out=out,
        poll_interval=0.01,
        wait_s=10,
    )
    assert token == TOKEN
    text = out.getvalue()
    assert "█" in text or "▀" in text or "▄" in text  # a QR drawn in the terminal
    assert "https://liteapp.weixin.qq.com/q/qr-123" in text
    assert "bot123@im.bot" in text
    stored = await kv.get_value(kv.TOKEN_KEY)
    assert stored is not None
    assert TOKEN not in stored  # sealed at rest
    served = await serve(Adapter, cfg(fake, ilink_token=None))
    assert served.adapter.bot.self_id == "bot123@im.bot"
    fake.push("after login")
    await harness.eventually(lambda: fake.texts() == ["echo: after login"])


GOLDEN = json.loads((Path(__file__).parent / "events.json").read_text("utf-8"))


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: c["class"] or "ignored")
async def test_golden_message(case: dict[str, Any]) -> None:
    from adapters.ilink.adapter import USER_MESSAGE

    payload = case["payload"]
    if case["class"] is None and "message_id" in payload:
        # parseable, but not a user's message (the bot's own): never admitted
        assert payload["message_type"] != USER_MESSAGE
        assert MessageEvent.from_wire(payload).message_id == payload["message_id"]
        return
    if case["class"] is None:
        with pytest.raises((KeyError, TypeError, ValueError)):
            MessageEvent.from_wire(payload)
        return
    event = MessageEvent.from_wire(payload)
    assert type(event).__name__ == case["class"]
    assert event.get_plaintext() == case["text"]
    assert event.context_token == payload["context_token"]
