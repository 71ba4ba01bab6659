"""Per-group settings applied to QQ group messages in the whole bot: wake modes
(mention, all, prefix, nickname, off), and the group's persona and model reaching
the model call. Settings are changed through the admin API, as an operator would."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.adapters.qq.napcat import NapCat, text_of
from tests.adapters.qq.test_qq_process import config, connect
from tests.webui.test_admin_api import PASSWORD, sign_in

GROUP = "qq:20001"


async def _answered(peer: NapCat, stub: Any, text: str, **kw: Any) -> str | None:
    """Send ``text`` as a plain group message, then an @-message as a marker, and
    wait for both answers, or for the marker's alone; return what the model got of
    the plain message (None: it never reached the model)."""
    before, n = len(stub.requests), len(peer.sends())
    await peer.send_event(peer.group_message(text, at_self=False, **kw))
    await peer.send_event(peer.group_message("marker", **kw))
    await peer.wait_sends(n + 1, timeout=30)
    seen = [r["messages"][-1]["content"] for r in stub.requests[before:]]
    if len(seen) > 1:
        await peer.wait_sends(n + 2, timeout=30)
    return next((s for s in seen if s != "marker"), None)


async def test_wake_modes_persona_and_model(bot_process: Any, openai_stub: Any) -> None:
    openai_stub.set_default("ok")
    bp = await bot_process(
        config(
            plugins={"chat": {}, "admin": {}, "keywords": {}, "history": {}},
            auth={"login_attempts": 100},
        )
    )
    bp.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
    admin = await sign_in(bp.base_url, "root")
    peer = await connect(bp)

    async def group(**settings: Any) -> None:
        r = await admin.patch(f"/api/admin/groups/{GROUP}", json={"settings": settings})
        assert r.status_code == 200, r.text
        # the change feed applies it a moment later (the API's view says when)
        for _ in range(500):
            view = (await admin.get(f"/api/admin/groups/{GROUP}")).json()
            if view["applied"] == view["settings"]:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the group's settings were never applied")

    try:
        # the default (mention): a plain message is not answered
        assert await _answered(peer, openai_stub, "plain one") is None
        await group(wake="all")
        assert await _answered(peer, openai_stub, "plain two") == "plain two"
        await group(wake="prefix", prefixes=["小助手"])
        assert await _answered(peer, openai_stub, "小助手 天气") == "天气"
        assert await _answered(peer, openai_stub, "no prefix") is None
        await group(wake="nickname", names=["阿福"])
        assert await _answered(peer, openai_stub, "阿福你好") == "阿福你好"
        # another group keeps the default
        other = await _answered(peer, openai_stub, "阿福?", group_id=20002)
        assert other is None
        # persona and model of the group reach the model call
        await group(wake="all", system_prompt="You are a cat.", model="cat-model")
        assert await _answered(peer, openai_stub, "meow?") == "meow?"
        request = next(
            r for r in openai_stub.requests if r["messages"][-1]["content"] == "meow?"
        )
        assert request["messages"][0] == {"role": "system", "content": "You are a cat."}
        assert request["model"] == "cat-model"
        # a keyword rule answers, and its hits are counted (table and metric)
        r = await admin.post(
            "/api/admin/keywords", json={"pattern": "价格", "reply": "十元"}
        )
        rule = r.json()["id"]
        for _ in range(50):  # until the change feed has reloaded the rules
            n = len(peer.sends())
            await peer.send_event(peer.group_message("价格多少"))
            if text_of((await peer.wait_sends(n + 1, timeout=30))[-1]) == "十元":
                break
            await asyncio.sleep(0.05)
        # every keyword answer is one hit (on a loaded machine a message sent while
        # the rules reloaded may be answered by the rule after the loop moved on)
        await asyncio.sleep(0.5)
        hits = sum(text_of(m) == "十元" for m in peer.sends())
        assert hits >= 1
        for _ in range(250):
            rules = (await admin.get("/api/admin/keywords")).json()["items"]
            if rules[0]["hit_count"] == hits:
                break
            await asyncio.sleep(0.02)
        assert rules[0]["hit_count"] == hits
        assert rules[0]["last_hit_at"]
        metrics = (await admin.get("/metrics")).text
        assert f'freechat_keyword_hits_total{{rule="{rule}"}} {hits}.0' in metrics
        tokens = re.findall(
            r'freechat_tokens_total\{direction="(in|out)",group="qq:20001",'
            r'platform="qq"\} (\d+)',
            metrics,
        )
        assert {d for d, v in tokens if int(v) > 0} == {"in", "out"}
        assert re.search(r'freechat_bot_online\{[^}]*self_id="10001"\} 1\.0', metrics)

        # a group switched off is not answered, not even on @
        await group(enabled=False)
        before = len(openai_stub.requests)
        await peer.send_event(peer.group_message("are you there?"))
        await peer.send_event(peer.private_message("direct marker"))
        await peer.wait_sends(len(peer.sends()) + 1, timeout=30)
        assert [
            r["messages"][-1]["content"] for r in openai_stub.requests[before:]
        ] == ["direct marker"]
        overview = (await admin.get("/api/admin/overview")).json()
        assert overview["first_token_p95"] is not None
        assert overview["first_token_p50"] <= overview["first_token_p95"]
        # the users the bot talked to can be found and banned
        found = (
            await admin.get("/api/admin/platform-users", params={"q": "qq:"})
        ).json()
        assert [u["user_key"] for u in found["items"]] == ["qq:30001"]
        assert found["items"][0]["banned"] is False
        r = await admin.post("/api/admin/bans", json={"user_key": "qq:30001"})
        assert r.status_code == 201
        found = (await admin.get("/api/admin/platform-users")).json()
        assert found["items"][0]["banned"] is True
        # the group was recorded with its settings
        listed = (await admin.get("/api/admin/groups")).json()["items"]
        assert {g["key"] for g in listed} >= {GROUP, "qq:20002"}
        assert text_of(peer.sends()[-1]) == "ok"
    finally:
        await peer.close()
        await admin.aclose()
