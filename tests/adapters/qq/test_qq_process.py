"""The QQ adapter inside the whole bot (``freechat run``): a NapCat-like client gets
the model's answer through the middleware chain, and duplicates (also across two
instances sharing Redis) are answered once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "process-token"


def config(**extra: Any) -> dict[str, Any]:
    return {"adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}}, **extra}


async def connect(bp: Any) -> NapCat:
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    return await NapCat(url, 10001, TOKEN).connect()


async def test_answer_through_the_whole_bot(bot_process: Any, openai_stub: Any) -> None:
    openai_stub.set_default("Model says [CQ:at,qq=all] hi")
    bp = await bot_process(config())
    peer = await connect(bp)
    try:
        event = peer.group_message("hello bot", message_id=777001)
        for _ in range(3):
            await peer.send_event(event)
        (call,) = await peer.wait_sends(1, timeout=30)
        message = call["params"]["message"]
        assert message[0] == {"type": "reply", "data": {"id": "777001"}}
        assert message[1:] == [
            {"type": "text", "data": {"text": "Model says [CQ:at,qq=all] hi"}}
        ]
        await asyncio.sleep(1.0)
        assert len(peer.sends()) == 1
        assert len(openai_stub.requests) == 1
        assert openai_stub.requests[0]["messages"][-1]["content"] == "hello bot"
    finally:
        await peer.close()


async def test_two_instances_sharing_redis_answer_once(
    bot_process: Any, openai_stub: Any, redis_url: str
) -> None:
    shared = config(state={"url": redis_url})
    first = await bot_process(shared)
    second = await bot_process(shared)
    peers = [await connect(first), await connect(second)]
    try:
        base = int(time.time() * 1000) % 10**12  # unique across runs (Redis keeps ids)
        events = [
            peers[0].group_message(f"q{i}", message_id=base + i) for i in range(3)
        ]
        for event in events:
            for _ in range(3):
                for peer in peers:
                    await peer.send_event(event)
        await eventually(lambda: sum(len(p.sends()) for p in peers) >= 3, 30)
        await asyncio.sleep(1.0)
        assert sum(len(p.sends()) for p in peers) == 3
        assert len(openai_stub.requests) == 3
        assert (
            sorted(text_of(c) for p in peers for c in p.sends())
            == ["Hello from the stub."] * 3
        )
    finally:
        for peer in peers:
            await peer.close()


async def test_messages_skip_nonebots_dispatch_only_when_nothing_else_listens(
    bot_process: Any, openai_stub: Any
) -> None:
    """With only FreeChat's matchers the chat answers directly (bot.dispatch);
    a community plugin's matcher makes every message go through NoneBot again, so
    the plugin sees it and the chat still answers."""
    alone = await bot_process(config())
    peer = await connect(alone)
    try:
        await peer.send_event(peer.group_message("hello", message_id=880001))
        await peer.wait_sends(1, timeout=30)
        await peer.send_event(peer.group_message("/reset", message_id=880002))
        await peer.wait_sends(2, timeout=30)
    finally:
        await peer.close()
    log = alone.log()
    # the plain message went direct, the command through NoneBot's matchers
    assert "module=plugins.chat" not in log
    assert "Event will be handled by" in log

    shared = await bot_process(config(extra_plugins=["tests.adapters.qq.side_plugin"]))
    peer = await connect(shared)
    try:
        await peer.send_event(peer.group_message("hello", message_id=880003))
        await peer.wait_sends(1, timeout=30)
        assert [text_of(c) for c in peer.sends()] == ["Hello from the stub."]
    finally:
        await peer.close()
    assert "side plugin saw: hello" in shared.log()


async def test_the_chat_answers_only_what_no_plugin_handled(
    bot_process: Any, openai_stub: Any
) -> None:
    """A command of any plugin (blocking or not), and a message a listener answered,
    never reach the model; an unknown /command gets a short answer in private
    chats and silence in groups."""
    bp = await bot_process(config(extra_plugins=["tests.adapters.qq.side_plugin"]))
    peer = await connect(bp)
    try:
        for n, event in enumerate(
            [
                peer.private_message("/roll 2d6"),
                peer.group_message("/roll 2d6"),
                peer.group_message("note milk"),
                peer.private_message("/nosuchcommand x"),
            ],
            start=1,
        ):
            await peer.send_event(event)
            await peer.wait_sends(n, timeout=30)
        await peer.send_event(peer.group_message("/nosuchcommand"))
        await peer.send_event(peer.group_message("/roll", at_self=False))
        await peer.send_event(peer.private_message("hi there"))
        await peer.wait_sends(6, timeout=30)
        await asyncio.sleep(1.0)
        texts = [text_of(c) for c in peer.sends()]
    finally:
        await peer.close()
    assert texts[:4] == [
        "rolled 4",
        "rolled 4",
        "noted: milk",
        "Unknown command, see /help. 未知命令，请发送 /help 查看帮助。",
    ]
    assert sorted(texts[4:]) == ["Hello from the stub.", "rolled 4"]
    assert [r["messages"][-1]["content"] for r in openai_stub.requests] == ["hi there"]
