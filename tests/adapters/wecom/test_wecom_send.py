"""Proactive sends through WeCom against the fake API and long-connection server:
an app's ``message/send``, a group robot (20 a minute), an AI bot's
``aibot_send_msg``; refusals for unknown names and API errors."""

from __future__ import annotations

from typing import Any

import pytest
from fake_server import FakeLongConnServer, FakeWeComAPI
from wecom_setup import app_config, long_bot

from bot import send as sending
from bot.runtime import Runtime
from bot.send import RateLimited, SendRefused
from tests.adapters.qq.adapter_harness import eventually
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


async def test_app_user_and_refusals(
    make_instance: Any, wecom_api: FakeWeComAPI, send_runtime: Runtime
) -> None:
    await make_instance(send_runtime.state, wecom_apps=[app_config()])
    await sending.send("wecom:app:app:user:zhangsan", "日报已生成")
    assert [(m["touser"], m["text"]["content"]) for m in wecom_api.sent] == [
        ("zhangsan", "日报已生成")
    ]
    wecom_api.errors = [81013]
    with pytest.raises(SendRefused, match="81013"):
        await sending.send("wecom:app:app:user:nobody", "x")
    with pytest.raises(SendRefused, match="no WeCom app named 'other'"):
        await sending.send("wecom:app:other:user:zhangsan", "x")


async def test_group_robot_and_its_limit(
    make_instance: Any, wecom_api: FakeWeComAPI, send_runtime: Runtime
) -> None:
    await make_instance(
        send_runtime.state,
        wecom_robots=[{"name": "ops", "key": "robot-key"}, {"name": "bad", "key": "k"}],
    )
    sending.set_target_limit(100, 60.0)
    try:
        for i in range(20):
            await sending.send("wecom:robot:ops", f"alert {i}")
        with pytest.raises(RateLimited, match="20 messages per 60 s"):
            await sending.send("wecom:robot:ops", "one too many")
    finally:
        sending.set_target_limit(60, 60.0)
    assert len(wecom_api.robot) == 20
    assert wecom_api.robot[0][1] == {"msgtype": "text", "text": {"content": "alert 0"}}
    with pytest.raises(SendRefused, match="93000"):
        await sending.send("wecom:robot:bad", "x")


async def test_ai_bot_chat(
    make_instance: Any, ws_server: FakeLongConnServer, send_runtime: Runtime
) -> None:
    await make_instance(send_runtime.state, wecom_bots=[long_bot()])
    await eventually(lambda: bool(ws_server.active))
    await sending.send("wecom:bot:lc:chat:chat-1", "**提醒**")
    await eventually(lambda: bool(ws_server.other_frames))
    (frame,) = ws_server.other_frames
    assert frame["cmd"] == "aibot_send_msg"
    assert frame["body"] == {
        "chatid": "chat-1",
        "msgtype": "markdown",
        "markdown": {"content": "**提醒**"},
    }
