"""A lone surrogate from a OneBot client, through the whole bot: answered, saved,
and nobody's history stops (issue 11, F1)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "text-edge-token"
REPLACEMENT = "\ufffd"


async def test_onebot_event_with_a_lone_surrogate_is_answered_and_saved(
    bot_process: Any, openai_stub: Any
) -> None:
    openai_stub.set_default("answer")
    bp = await bot_process(
        {
            "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}},
            "plugins": {"chat": {}, "history": {}},
        }
    )
    peer = await NapCat(
        f"ws://127.0.0.1:{bp.port}/onebot/v11/ws", 10001, TOKEN
    ).connect()
    try:
        # json.dumps escapes the lone surrogate as "\ud83d", as a hostile peer sends it
        await peer.send_raw(json.dumps(peer.group_message("x \ud83d y")))
        (call,) = await peer.wait_sends(1, timeout=30)
        assert "answer" in text_of(call)
        assert openai_stub.requests[-1]["messages"][-1]["content"] == (
            f"x {REPLACEMENT} y"
        )
        # the next message of anyone is saved as well
        await peer.send_event(peer.group_message("after", group_id=20002))
        await peer.wait_sends(2, timeout=30)
    finally:
        await peer.close()

    def saved() -> list[str]:
        with sqlite3.connect(bp.data_dir / "freechat.db") as db:
            return [r[0] for r in db.execute("SELECT content FROM messages")]

    await eventually(lambda: "after" in saved(), timeout=30)
    assert f"x {REPLACEMENT} y" in saved()
