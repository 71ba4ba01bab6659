"""Proactive sends to WeChat groups and contacts against the OneBot v12 bridge."""

from __future__ import annotations

from typing import Any

from adapters.wechat import Adapter
from bot import send as sending
from bot.runtime import Runtime
from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.wechat.bridge import Bridge
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]

TOKEN = "wechat-send-token"


async def test_group_and_private(serve: Any, send_runtime: Runtime) -> None:
    served = await serve(Adapter, {"wechat_access_token": TOKEN})
    bridge = await Bridge(f"{served.ws_base}/onebot/v12/ws", token=TOKEN).connect()
    try:
        await eventually(lambda: bool(served.adapter.bots))
        await sending.send("wechat:group:123@chatroom", "群通知")
        await sending.send("wechat:user:wxid_a", "hi")
        sends = await bridge.wait_sends(2)
        params = [s["params"] for s in sends]
        assert [
            (p["detail_type"], p.get("group_id"), p.get("user_id")) for p in params
        ] == [
            ("group", "123@chatroom", None),
            ("private", None, "wxid_a"),
        ]
        assert params[0]["message"] == [{"type": "text", "data": {"text": "群通知"}}]
    finally:
        await bridge.close()
