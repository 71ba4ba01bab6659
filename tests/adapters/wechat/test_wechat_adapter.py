"""The WeChat groups adapter against a ComWeChat-like OneBot v12 bridge on loopback."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from adapters.wechat import Adapter
from bot.exceptions import ConfigError
from tests.adapters.qq import adapter_harness as harness
from tests.adapters.wechat.bridge import Bridge, text_of

TOKEN = "wechat-test-token"
GOLDEN = json.loads((Path(__file__).parent / "events.json").read_text("utf-8"))


def cfg(**extra: Any) -> dict[str, Any]:
    return {"wechat_access_token": TOKEN, "wechat_min_interval": 0, **extra}


async def bridge(served: Any) -> Bridge:
    return await Bridge(f"{served.ws_base}/onebot/v12/ws", token=TOKEN).connect()


async def test_group_mention_private_and_prefix(serve: Any, answerer: Any) -> None:
    served = await serve(Adapter, cfg(wechat_prefixes=["/ai"]))
    peer = await bridge(served)
    try:
        await peer.send(peer.meta("heartbeat", interval=5000))
        await peer.send(peer.group_message("你好"))
        await peer.send(peer.group_message("not for the bot", mention=False))
        await peer.send(peer.group_message("/ai prefixed", mention=False))
        await peer.send(peer.private_message("direct"))
        await peer.wait_sends(3)
        await asyncio.sleep(0.3)
        by_text = {text_of(c): c["params"] for c in peer.sends()}
        assert set(by_text) == {"echo: 你好", "echo: prefixed", "echo: direct"}
        group = by_text["echo: 你好"]
        assert group["detail_type"] == "group"
        assert group["group_id"] == "12345678@chatroom"
        assert group["message"] == [{"type": "text", "data": {"text": "echo: 你好"}}]
        assert by_text["echo: direct"]["user_id"] == "wxid_user1"
        ctx = next(c for c in answerer.contexts if c.text == "你好")
        assert (ctx.platform, ctx.group_id, ctx.user_id, ctx.bot_id) == (
            "wechat",
            "12345678@chatroom",
            "wxid_user1",
            "wxid_bot",
        )
        assert ctx.session_id == "wechat:12345678@chatroom"
    finally:
        await peer.close()


async def test_malformed_frames_dedup_and_reconnect(serve: Any, answerer: Any) -> None:
    served = await serve(Adapter, cfg())
    old = await bridge(served)
    rng = random.Random(12)
    valid = old.group_message("ok")
    junk: list[Any] = [
        "{",
        "[]",
        b"\x93\x01\x02",  # msgpack, but not an object
        b"\xc1",  # invalid msgpack
        json.dumps({**valid, "self": "nope"}),
        json.dumps({**valid, "message": 3.5, "message_id": "x"}),
        json.dumps({**valid, "type": "weird"}),
        json.dumps({"a.b.c": {"d.e": 1}}),
        "[" * 20_000 + "]" * 20_000,
        json.dumps({"echo": ["x"], "status": "ok"}),
    ]
    try:
        for i in range(1000):
            await old.send(rng.choice(junk))
            if i % 100 == 99:
                event = old.group_message(f"v{i // 100}")
                for _ in range(3):  # the same event three times: one answer
                    await old.send(event)
        await old.wait_sends(10, timeout=60)
        await asyncio.sleep(0.3)
        assert sorted(text_of(c) for c in old.sends()) == [
            f"echo: v{n}" for n in range(10)
        ]
        assert not old.closed.is_set()
        assert served.adapter.bad_frames.total >= 500

        old.freeze()  # half-open
        new = await bridge(served)
        try:
            await new.send(new.group_message("after"))
            (call,) = await new.wait_sends(1, timeout=5)
            assert text_of(call) == "echo: after"
            assert len(old.sends()) == 10
        finally:
            await new.close()
    finally:
        await old.close()


async def test_bad_token_refused_and_required_off_loopback(serve: Any) -> None:
    served = await serve(Adapter, cfg())
    import websockets

    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            f"{served.ws_base}/onebot/v12/ws",
            additional_headers={"Authorization": "Bearer nope"},
        ):
            pass
    with pytest.raises(ConfigError, match=r"adapters\.wechat\.access_token"):
        await harness.serve_adapter(Adapter, {}, host="0.0.0.0")


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: c["class"] or "unknown")
async def test_golden_event(serve: Any, case: dict[str, Any]) -> None:
    served = await serve(Adapter, cfg())
    event = served.adapter.to_event(case["payload"], "ComWeChat")
    assert (type(event).__name__ if event else None) == case["class"]


async def test_overload_is_shed_with_one_busy_answer_per_chat(
    serve: Any, answerer: Any
) -> None:
    from bot.metrics import SHED

    served = await serve(Adapter, cfg(wechat_max_in_flight=2, wechat_busy_cooldown=60))
    answerer.delay = 1.0
    shed_before = SHED.labels("wechat")._value.get()
    peer = await bridge(served)
    try:
        for i in range(6):
            await peer.send(peer.group_message(f"g{i}"))
        await peer.wait_sends(3)
        await asyncio.sleep(1.5)
        texts = [(text_of(c), c["params"]) for c in peer.sends()]
        busy_text = served.adapter.wechat_config.wechat_busy_text
        busy = [params for text, params in texts if text == busy_text]
        assert len([t for t, _ in texts if t.startswith("echo:")]) == 2
        assert len(busy) == 1  # one per chat per cooldown
        assert busy[0]["detail_type"] == "group"
        assert busy[0]["group_id"] == "12345678@chatroom"
        assert SHED.labels("wechat")._value.get() - shed_before == 4
    finally:
        await peer.close()
