"""The AI bot's long connection against the fake server: subscribe, streamed
answers (growing frames, one stream id, one final finish), size limit, errors,
heartbeats, reconnects, and the kick by a second subscriber."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from fake_server import FakeLongConnServer, event_callback, text_callback
from mp_harness import ChatStub, ScriptedLLM
from websockets.asyncio.client import connect
from wecom_setup import BOT_ID, BOT_SECRET, long_bot


async def _wait(cond, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def _connected(ws_server: FakeLongConnServer) -> None:
    await _wait(lambda: BOT_ID in ws_server.active)


def _assert_growing(contents: list[str]) -> None:
    for before, after in itertools.pairwise(contents):
        assert after.startswith(before), (before, after)


async def test_streamed_answer_is_growing_frames_with_one_finish(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM, chat: ChatStub
) -> None:
    llm.text = "第一段回答。\n\n第二段回答，更长一些。"
    llm.delay = 0.6
    llm.chunks = 6
    await make_instance(wecom_bots=[long_bot()], wecom_stream_interval=0.05)
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("你好", user="lisi"))
    log = await ws_server.wait_finished(req_id)
    assert ws_server.violations == []
    assert len(log.frames) >= 3
    _assert_growing(log.contents)
    assert [f["stream"]["finish"] for f in log.frames] == [False] * (
        len(log.frames) - 1
    ) + [True]
    assert log.contents[-1] == llm.text
    assert len({f["stream"]["id"] for f in log.frames}) == 1
    assert llm.calls == ["你好"]
    ctx = chat.contexts[0]
    assert (ctx.platform, ctx.user_id, ctx.group_id) == ("wecom", "lisi", None)


async def test_group_mention_is_stripped_and_group_keyed(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM, chat: ChatStub
) -> None:
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    req_id = await ws_server.push(
        BOT_ID, text_callback("@助手 讲个笑话", chat="wrk-chat-1")
    )
    await ws_server.wait_finished(req_id)
    assert llm.calls == ["讲个笑话"]
    assert chat.contexts[0].group_id == "wrk-chat-1"


async def test_frames_are_throttled(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    llm.text = "字" * 200
    llm.chunks = 200
    llm.delay = 1.0
    await make_instance(wecom_bots=[long_bot()], wecom_stream_interval=0.3)
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("long"))
    log = await ws_server.wait_finished(req_id)
    took = log.frames[-1]["at"] - log.frames[0]["at"]
    assert len(log.frames) <= took / 0.3 + 3
    # the flush of the tail and the finish frame come right after the last update
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(log.frames[:-2])]
    assert all(g >= 0.2 for g in gaps), [
        (round(f["at"], 3), len(f["stream"]["content"]), f["stream"]["finish"])
        for f in log.frames
    ]
    assert log.contents[-1] == llm.text


async def test_content_is_cut_to_20480_bytes_at_a_character(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    llm.text = "汉" * 8000  # 24,000 bytes
    llm.chunks = 8
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("big"))
    log = await ws_server.wait_finished(req_id)
    assert ws_server.violations == []
    last = log.contents[-1]
    assert len(last.encode()) <= 20480
    assert last == "汉" * (20480 // 3)


async def test_finish_is_sent_after_a_model_error(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    llm.text = "半句话然后出错了"
    llm.chunks = 4
    llm.fail_after = 2
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("boom"))
    log = await ws_server.wait_finished(req_id)
    assert log.frames[-1]["stream"]["finish"] is True
    assert ws_server.violations == []
    _assert_growing(log.contents)


async def test_empty_answer_still_finishes(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    llm.text = ""
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("silence"))
    log = await ws_server.wait_finished(req_id)
    assert log.contents == ["抱歉，暂时无法回答。"]


async def test_duplicate_callback_one_model_call(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    llm.delay = 0.3
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    body = text_callback("again", msgid="m-dup-1")
    first = await ws_server.push(BOT_ID, body)
    second = await ws_server.push(BOT_ID, body)
    await ws_server.wait_finished(first)
    await asyncio.sleep(0.3)
    assert llm.calls == ["again"]
    assert second not in ws_server.streams


async def test_bad_frames_keep_the_connection(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    for raw in [
        "not json",
        "[1,2]",
        "{}",
        json.dumps({"cmd": "aibot_msg_callback"}),
        json.dumps(
            {
                "cmd": "aibot_msg_callback",
                "headers": {"req_id": "r"},
                "body": {"msgtype": "text"},
            }
        ),
    ]:
        await ws_server.push_raw(BOT_ID, raw)
    req_id = await ws_server.push(BOT_ID, text_callback("still there?"))
    await ws_server.wait_finished(req_id)
    assert ws_server.subscribes == [BOT_ID]
    assert llm.calls == ["still there?"]


async def test_welcome_on_enter_chat(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    await make_instance(wecom_bots=[long_bot(welcome="你好，我是助手")])
    await _connected(ws_server)
    req_id = await ws_server.push(
        BOT_ID, event_callback("enter_chat"), cmd="aibot_event_callback"
    )
    await _wait(lambda: ws_server.welcomes)
    frame = ws_server.welcomes[0]
    assert frame["headers"]["req_id"] == req_id
    assert frame["body"] == {"msgtype": "text", "text": {"content": "你好，我是助手"}}
    assert llm.calls == []


async def test_heartbeat_pings(make_instance, ws_server: FakeLongConnServer) -> None:
    await make_instance(wecom_bots=[long_bot()], wecom_heartbeat=0.2)
    await _connected(ws_server)
    await _wait(lambda: ws_server.pings >= 3, limit=3)


async def test_reconnects_after_a_cut(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    inst = await make_instance(wecom_bots=[long_bot()], wecom_reconnect_min=0.1)
    await _connected(ws_server)
    await ws_server.drop(BOT_ID)
    await _wait(lambda: len(ws_server.subscribes) == 2 and BOT_ID in ws_server.active)
    req_id = await ws_server.push(BOT_ID, text_callback("back"))
    await ws_server.wait_finished(req_id)
    assert inst.adapter.connections["lc"].status == "connected"


async def test_second_subscriber_kicks_and_we_stay_off(
    make_instance, ws_server: FakeLongConnServer
) -> None:
    inst = await make_instance(wecom_bots=[long_bot()], wecom_reconnect_min=0.1)
    await _connected(ws_server)
    conn = inst.adapter.connections["lc"]
    async with connect(ws_server.url) as other:
        await other.send(
            json.dumps(
                {
                    "cmd": "aibot_subscribe",
                    "headers": {"req_id": "x"},
                    "body": {"bot_id": BOT_ID, "secret": BOT_SECRET},
                }
            )
        )
        assert json.loads(await other.recv())["errcode"] == 0
        await _wait(lambda: conn.status == "replaced")
        await asyncio.sleep(0.5)
        assert ws_server.subscribes == [BOT_ID, BOT_ID]  # we did not fight back
        assert "lc" not in inst.adapter.bots


async def test_wrong_secret_is_reported(
    make_instance, ws_server: FakeLongConnServer
) -> None:
    inst = await make_instance(
        wecom_bots=[long_bot(secret="wrong")], wecom_reconnect_max=5
    )
    conn = inst.adapter.connections["lc"]
    await _wait(lambda: conn.status == "refused")
    assert ws_server.subscribes == []


@pytest.mark.parametrize("n", [3])
async def test_concurrent_users_get_their_own_streams(
    make_instance, ws_server: FakeLongConnServer, llm: ScriptedLLM, n: int
) -> None:
    llm.delay = 0.4
    await make_instance(wecom_bots=[long_bot()])
    await _connected(ws_server)
    req_ids = [
        await ws_server.push(BOT_ID, text_callback(f"q{i}", user=f"u{i}"))
        for i in range(n)
    ]
    logs = [await ws_server.wait_finished(r) for r in req_ids]
    assert ws_server.violations == []
    assert len({log.frames[0]["stream"]["id"] for log in logs}) == n


async def test_two_instances_one_connection_and_failover(
    make_instance, redis_states, ws_server: FakeLongConnServer, llm: ScriptedLLM
) -> None:
    """Instances sharing Redis: one holds the lease and connects, the other stands
    by and takes over when the holder stops."""
    cfg = {
        "wecom_bots": [long_bot()],
        "wecom_lease_ttl": 0.6,
        "wecom_reconnect_min": 0.1,
    }
    a = await make_instance(state=redis_states(), **cfg)
    b = await make_instance(state=redis_states(), **cfg)
    await _connected(ws_server)
    await asyncio.sleep(1.0)
    assert ws_server.subscribes == [BOT_ID]
    statuses = {a.adapter.connections["lc"].status, b.adapter.connections["lc"].status}
    assert statuses == {"connected", "standby"}
    holder, other = (
        (a, b) if a.adapter.connections["lc"].status == "connected" else (b, a)
    )
    # both tell the console the same lease holder; only the holder says "here"
    seen = [(await x.adapter.connection_info())["lc"] for x in (holder, other)]
    assert seen[0]["lease_holder"] == seen[1]["lease_holder"]
    assert seen[0]["lease_holder"] == holder.adapter.connections["lc"].lease.owner
    assert [s["lease_here"] for s in seen] == [True, False]
    assert [s["status"] for s in seen] == ["connected", "standby"]
    await holder.stop()
    await _wait(lambda: other.adapter.connections["lc"].status == "connected", limit=5)
    taken = (await other.adapter.connection_info())["lc"]
    assert taken["lease_here"]
    assert taken["lease_holder"] != seen[0]["lease_holder"]
    await _connected(ws_server)
    req_id = await ws_server.push(BOT_ID, text_callback("after failover"))
    await ws_server.wait_finished(req_id)
    assert llm.calls == ["after failover"]
