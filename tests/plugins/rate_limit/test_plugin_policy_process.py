"""FreeChat's rate limits cover community plugins inside ``freechat run``: a
plugin's command counts against the sender's limit (over it: no answer), and what
plugins send to one chat is limited per window (``plugin_sends``)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "policy-token"


async def test_rate_limits_cover_plugin_commands_and_sends(
    bot_process: Any, openai_stub: Any
) -> None:
    bp = await bot_process(
        {
            "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}},
            "extra_plugins": ["tests.adapters.qq.side_plugin"],
            "plugins": {
                "chat": {},
                "rate_limit": {
                    "user": 2,
                    "user_window": 600,
                    "group": 0,
                    "plugin_sends": 1,
                    "plugin_sends_window": 600,
                },
            },
        }
    )
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    peer = await NapCat(url, 10001, TOKEN).connect()
    try:
        # /roll from one user in three groups (three chats): two within the
        # user's limit, the third refused, silently
        for group in (60001, 60002, 60003):
            await peer.send_event(
                peer.group_message("/roll", group_id=group, user_id=40001)
            )
            await asyncio.sleep(0.5)
        # a listener's answers (not counted per user): one per chat and window
        await peer.send_event(
            peer.group_message("note a", group_id=50001, user_id=40002)
        )
        await asyncio.sleep(0.5)
        await peer.send_event(
            peer.group_message("note b", group_id=50001, user_id=40003)
        )
        await asyncio.sleep(2.0)
        texts = [text_of(c) for c in peer.sends()]
    finally:
        await peer.close()
    assert texts == ["rolled 4", "rolled 4", "noted: a"]
    assert openai_stub.requests == []
    assert "was refused" in bp.log()
