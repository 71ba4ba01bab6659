"""The QQ adapter against a NapCat-like reverse WebSocket client on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
import websockets

from adapters.qq import Adapter
from bot.exceptions import ConfigError
from bot.metrics import SHED
from tests.adapters.qq.adapter_harness import Answerer, eventually, serve_adapter
from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "t0ken-for-tests"


def cfg(**extra: Any) -> dict[str, Any]:
    return {"qq_access_token": TOKEN, "qq_min_interval": 0, **extra}


async def napcat(served: Any, self_id: int = 10001) -> NapCat:
    return await NapCat(f"{served.ws_base}/onebot/v11/ws", self_id, TOKEN).connect()


async def test_group_private_prefix_and_quote(serve: Any, answerer: Answerer) -> None:
    served = await serve(Adapter, cfg(qq_prefixes=["#ai"]))
    peer = await napcat(served)
    try:
        await peer.send_event(peer.heartbeat())
        group = peer.group_message("hello there", role="admin")
        await peer.send_event(group)
        await peer.send_event(peer.group_message("not for the bot", at_self=False))
        await peer.send_event(peer.group_message("#ai  with prefix", at_self=False))
        await peer.send_event(peer.private_message("hi in private"))
        sends = await peer.wait_sends(3)
        await asyncio.sleep(0.3)  # an answer to the unaddressed message would show
        assert len(peer.sends()) == 3
        by_text = {text_of(c): c for c in sends}
        assert set(by_text) == {
            "echo: hello there",
            "echo: with prefix",
            "echo: hi in private",
        }
        first = by_text["echo: hello there"]["params"]
        assert first["message_type"] == "group"
        assert first["group_id"] == 20001
        assert first["message"][0] == {
            "type": "reply",
            "data": {"id": str(group["message_id"])},
        }
        private = by_text["echo: hi in private"]["params"]
        assert private["message_type"] == "private"
        assert [s["type"] for s in private["message"]] == ["text"]
        ctx = next(c for c in answerer.contexts if c.text == "hello there")
        assert ctx.platform == "qq"
        assert ctx.group_id == "20001"
        assert ctx.user_id == "30001"
        assert ctx.bot_id == "10001"
        assert ctx.session_id == "qq:20001"
        assert ctx.extra["role"] == "admin"
    finally:
        await peer.close()


async def test_model_text_is_never_a_cq_code(serve: Any, answerer: Answerer) -> None:
    served = await serve(Adapter, cfg(qq_reply_quote=False))
    evil = "[CQ:at,qq=all] everyone [CQ:image,file=http://x/y.png]"
    answerer.answer = lambda ctx: evil
    peer = await napcat(served)
    try:
        await peer.send_event(peer.group_message("say it"))
        (call,) = await peer.wait_sends(1)
        message = call["params"]["message"]
        assert message == [{"type": "text", "data": {"text": evil}}]
    finally:
        await peer.close()


async def test_same_event_three_times_answered_once(
    serve: Any, answerer: Answerer, memory_runtime: Any
) -> None:
    served = await serve(Adapter, cfg())
    peer = await napcat(served)
    try:
        event = peer.group_message("once please", message_id=424242)
        for _ in range(3):
            await peer.send_event(event)
        await peer.send_event(peer.private_message("marker"))
        await peer.wait_sends(2)
        await asyncio.sleep(0.5)
        texts = [text_of(c) for c in peer.sends()]
        assert texts.count("echo: once please") == 1
    finally:
        await peer.close()


async def test_a_recall_notice_is_not_taken_for_a_repeat(
    serve: Any, answerer: Answerer, memory_runtime: Any
) -> None:
    """Dedup claims message ids of messages only: a recall notice carries the id
    of the message it recalls and must still reach the plugins."""
    from nonebot import on_notice
    from nonebot.adapters.onebot.v11 import GroupRecallNoticeEvent

    recalled: list[int] = []
    watcher = on_notice(priority=1)

    @watcher.handle()
    async def _(event: GroupRecallNoticeEvent) -> None:
        recalled.append(event.message_id)

    served = await serve(Adapter, cfg())
    peer = await napcat(served)
    try:
        message = peer.group_message("soon recalled", message_id=777001)
        await peer.send_event(message)
        await peer.wait_sends(1)
        await peer.send_event(
            {
                **peer._base("notice"),
                "notice_type": "group_recall",
                "group_id": message["group_id"],
                "user_id": message["user_id"],
                "operator_id": message["user_id"],
                "message_id": 777001,
            }
        )
        await eventually(lambda: recalled == [777001])
    finally:
        watcher.destroy()
        await peer.close()


async def test_two_instances_sharing_redis_answer_once(
    serve: Any, answerer: Answerer, redis_runtime: Any
) -> None:
    # NapCat can push the same events to several reverse-WS URLs (one per instance)
    first = await serve(Adapter, cfg())
    second = await serve(Adapter, cfg())
    peers = [await napcat(first), await napcat(second)]
    try:
        events = [
            peers[0].group_message(f"m{i}", message_id=9000 + i) for i in range(5)
        ]
        for event in events:
            for _ in range(3):
                for peer in peers:
                    await peer.send_event(event)
        await eventually(lambda: len(peers[0].sends()) + len(peers[1].sends()) >= 5)
        await asyncio.sleep(0.5)
        texts = sorted(text_of(c) for p in peers for c in p.sends())
        assert texts == [f"echo: m{i}" for i in range(5)]
    finally:
        for peer in peers:
            await peer.close()


async def test_reconnect_while_old_socket_is_half_open(
    serve: Any, answerer: Answerer
) -> None:
    served = await serve(Adapter, cfg())
    old = await napcat(served)
    await old.send_event(old.private_message("before"))
    await old.wait_sends(1)
    old.freeze()  # half-open: the TCP connection stays, nothing is read any more
    new = await napcat(served)
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await new.send_event(new.group_message("after reconnect"))
        (call,) = await new.wait_sends(1, timeout=5.0)
        assert loop.time() - start < 5.0
        assert text_of(call) == "echo: after reconnect"
        # the API works through the adapter's bot too (no ApiNotAvailable)
        bot = served.adapter.bots["10001"]
        info = await bot.call_api("get_login_info")
        assert info["user_id"] == 10001
        assert served.adapter.connections["10001"] is not None
        assert len(old.sends()) == 1
    finally:
        await new.close()
        await old.close()


async def test_bad_token_and_missing_self_id_refused(serve: Any) -> None:
    served = await serve(Adapter, cfg())
    url = f"{served.ws_base}/onebot/v11/ws"
    for headers in (
        {"X-Self-ID": "1", "Authorization": "Bearer wrong"},
        {"X-Self-ID": "1"},
        {"Authorization": f"Bearer {TOKEN}"},
    ):
        # closing before accept is an HTTP 403 answer to the upgrade request
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert info.value.response.status_code == 403
    assert served.adapter.bots == {}


async def test_access_token_required_off_loopback() -> None:
    with pytest.raises(ConfigError, match=r"adapters\.qq\.access_token"):
        await serve_adapter(Adapter, {}, host="0.0.0.0")


def _signed(body: bytes, secret: str) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


async def test_http_post_requires_token_and_signature(
    serve: Any, answerer: Answerer
) -> None:
    served = await serve(Adapter, cfg(qq_secret="s3cret"))
    body = json.dumps(NapCat("", 10002).private_message("via http")).encode()
    url = f"{served.http_base}/onebot/v11/"
    base = {"X-Self-ID": "10002", "Content-Type": "application/json"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient() as client:
        cases = [
            ({**base}, 401),  # nothing
            ({**base, "X-Signature": _signed(body, "s3cret")}, 401),  # no token
            ({**base, **auth}, 401),  # no signature
            ({**base, **auth, "X-Signature": _signed(body, "wrong")}, 403),
            ({**base, **auth, "X-Signature": "sha1=00"}, 403),
        ]
        for headers, status in cases:
            resp = await client.post(url, content=body, headers=headers)
            assert resp.status_code == status, headers
        await asyncio.sleep(0.3)
        assert answerer.contexts == []
        good = {**base, **auth, "X-Signature": _signed(body, "s3cret")}
        resp = await client.post(url, content=body, headers=good)
        assert resp.status_code == 204
        await eventually(lambda: len(answerer.contexts) == 1)
        assert answerer.contexts[0].text == "via http"


async def test_overload_is_shed_with_one_busy_answer(
    serve: Any, answerer: Answerer
) -> None:
    served = await serve(Adapter, cfg(qq_max_in_flight=2, qq_busy_cooldown=60))
    answerer.delay = 1.0
    shed_before = SHED.labels("qq")._value.get()
    peer = await napcat(served)
    try:
        for i in range(10):
            await peer.send_event(peer.private_message(f"q{i}"))
        await peer.wait_sends(3)
        await asyncio.sleep(1.5)
        texts = [text_of(c) for c in peer.sends()]
        echoes = [t for t in texts if t.startswith("echo:")]
        busy = [t for t in texts if t == served.adapter.qq_config.qq_busy_text]
        assert len(echoes) == 2
        assert len(busy) == 1  # one per chat per cooldown
        assert SHED.labels("qq")._value.get() - shed_before == 8
    finally:
        await peer.close()
