"""The scheduler inside whole ``freechat run`` processes, managed with
``freechat schedule`` from another process: a NapCat-like client receives the
job's ``send_group_msg`` frames; the job survives a restart; two instances sharing
Redis and PostgreSQL fire each run exactly once."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import asyncpg
import httpx

from bot.settings import DEFAULT_PLUGINS
from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "schedule-token"
GROUP = 700001


class TimedNapCat(NapCat):
    """Notes when each API call arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived: list[tuple[float, dict[str, Any]]] = []

    async def _answer(self, frame: dict[str, Any]) -> None:
        self.arrived.append((time.monotonic(), frame))
        await super()._answer(frame)

    def group_sends(self, text: str) -> list[float]:
        return [
            t
            for t, f in self.arrived
            if f["action"] == "send_group_msg"
            and f["params"]["group_id"] == GROUP
            and f["params"]["message"] == [{"type": "text", "data": {"text": text}}]
        ]


def qq(**extra: Any) -> dict[str, Any]:
    return {"adapters": {"qq": {"access_token": TOKEN}}, **extra}


async def connect(bp: Any) -> TimedNapCat:
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    peer = TimedNapCat(url, 10001, TOKEN)
    return await peer.connect()  # type: ignore[return-value]


async def test_cli_job_reaches_the_running_bot_and_survives_a_restart(
    bot_process: Any,
) -> None:
    bp = await bot_process(qq())
    peer = await connect(bp)
    try:
        await asyncio.sleep(0.5)  # the connection is registered
        await asyncio.to_thread(
            bp.cli,
            "schedule",
            "add",
            "--every",
            "2",
            "--target",
            f"qq:group:{GROUP}",
            "--text",
            "hello-schedule",
            "--name",
            "hello",
        )
        added = time.monotonic()
        await eventually(lambda: len(peer.group_sends("hello-schedule")) >= 4, 30)
        times = peer.group_sends("hello-schedule")
        first = times[0] - added
        gaps = [b - a for a, b in itertools.pairwise(times)]
        print(f"first frame {first:.2f} s after the CLI; gaps {gaps}")
        assert first < 6.0  # 3 s asked; generous on a loaded shared machine
        assert all(1.0 < g < 4.0 for g in gaps), gaps
        listed = await asyncio.to_thread(bp.cli, "schedule", "list")
        assert "hello [on] every 2 s -> qq:group:700001" in listed
        async with httpx.AsyncClient(base_url=bp.base_url) as client:
            metrics = (await client.get("/metrics")).text
        assert 'freechat_scheduler_runs_total{outcome="ok"}' in metrics
        assert "freechat_scheduler_lateness_seconds_count" in metrics
    finally:
        await peer.close()
    bp.stop()

    again = await bot_process(
        qq(database={"url": f"sqlite://{bp.data_dir}/freechat.db"})
    )
    peer = await connect(again)
    try:
        await eventually(lambda: len(peer.group_sends("hello-schedule")) >= 2, 30)
        await asyncio.to_thread(again.cli, "schedule", "pause", "hello")
        await asyncio.sleep(4.0)  # the bot polls; an in-flight run may still land
        settled = len(peer.group_sends("hello-schedule"))
        await asyncio.sleep(4.5)
        assert len(peer.group_sends("hello-schedule")) == settled
    finally:
        await peer.close()


async def test_two_instances_sharing_redis_and_postgres_fire_each_run_once(
    bot_process: Any, pg_url: str, redis_url: str
) -> None:
    shared = qq(database={"url": pg_url}, state={"url": redis_url})
    first = await bot_process(shared)
    second = await bot_process(shared)
    peers = [await connect(first), await connect(second)]
    name = f"twice-{uuid.uuid4().hex[:8]}"
    runs = 20
    try:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(
            first.cli,
            "schedule",
            "add",
            "--every",
            "1",
            "--target",
            f"qq:group:{GROUP}",
            "--text",
            name,
            "--name",
            name,
        )

        def sent() -> int:
            return sum(len(p.group_sends(name)) for p in peers)

        await eventually(lambda: sent() >= runs, 90)
        await asyncio.to_thread(first.cli, "schedule", "pause", name)
        await asyncio.sleep(4.0)
        total = sent()
        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch(
                "SELECT scheduled_at, outcome, error FROM scheduled_job_runs "
                "WHERE job_name = $1 ORDER BY scheduled_at",
                name,
            )
        finally:
            await conn.close()
        print(
            f"{total} frames, {len(rows)} runs, per instance "
            f"{[len(p.group_sends(name)) for p in peers]}"
        )
        assert total >= runs
        assert total == len(rows)
        assert [r["error"] for r in rows if r["outcome"] != "ok"] == []
        stamps = [r["scheduled_at"].timestamp() for r in rows]
        # one run per second of the grid, none twice
        assert len(set(stamps)) == len(stamps)
        assert all(abs((b - a) - 1.0) < 1e-3 for a, b in itertools.pairwise(stamps))
    finally:
        for peer in peers:
            await peer.close()


async def test_prompt_job_goes_through_the_whole_chain(
    bot_process: Any, openai_stub: Any, redis_url: str, tmp_path: Any
) -> None:
    """Persona (the system prompt) and the prompt reach the model, the group's
    budget is charged, the answer's listed word is masked before it is sent; a
    fixed text's too."""
    words = tmp_path / "words"
    words.mkdir()
    (words / "banned.txt").write_text("badword\n")
    group = 700000 + int(uuid.uuid4().int % 99_999)
    openai_stub.set_default("Morning news: badword happened.")
    plugins: dict[str, Any] = {name: {} for name in DEFAULT_PLUGINS}
    plugins["sensitive_words"] = {"dirs": [str(words)], "default_action": "mask"}
    bp = await bot_process(
        qq(
            state={"url": redis_url},
            llm={"system_prompt": "You are Mimi, the group's cat."},
            plugins=plugins,
        )
    )
    peer = await connect(bp)
    name = f"news-{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(
            bp.cli,
            "schedule",
            "add",
            "--cron",
            "0 0 1 1 *",
            "--target",
            f"qq:group:{group}",
            "--prompt",
            "今天的早报",
            "--name",
            name,
        )
        await asyncio.to_thread(bp.cli, "schedule", "run-now", name)

        def texts() -> list[str]:
            return [
                f["params"]["message"][0]["data"]["text"]
                for _, f in peer.arrived
                if f["action"] == "send_group_msg" and f["params"]["group_id"] == group
            ]

        await eventually(lambda: bool(texts()), 30)
        await asyncio.sleep(1.0)
        assert texts() == ["Morning news: ******* happened."]
        request = openai_stub.requests[-1]
        assert request["messages"][0] == {
            "role": "system",
            "content": "You are Mimi, the group's cat.",
        }
        assert request["messages"][-1] == {"role": "user", "content": "今天的早报"}
        import redis.asyncio as redis

        client = redis.from_url(redis_url)
        try:
            keys = [
                k async for k in client.scan_iter(f"freechat:budget:group:qq:{group}:*")
            ]
            used = [int(await client.get(k) or 0) for k in keys]
        finally:
            await client.aclose()
        assert keys
        assert all(u > 0 for u in used), used
        # a fixed text is filtered too (bot.send's output filter)
        await asyncio.to_thread(
            bp.cli,
            "schedule",
            "add",
            "--every",
            "3600",
            "--target",
            f"qq:group:{group}",
            "--text",
            "plain badword here",
            "--name",
            f"{name}-text",
        )
        await asyncio.to_thread(bp.cli, "schedule", "run-now", f"{name}-text")
        await eventually(lambda: len(texts()) == 2, 30)
        assert texts()[1] == "plain ******* here"
    finally:
        await peer.close()


async def test_superusers_manage_jobs_in_chat(bot_process: Any) -> None:
    bp = await bot_process(qq(superusers=["qq:12345"]))
    peer = await connect(bp)
    try:
        await peer.send_event(
            peer.private_message(
                '/schedule add --every 2 --target qq:group:700001 --text "from chat"'
                " --name chatjob",
                user_id=12345,
            )
        )
        (reply,) = await peer.wait_sends(1, timeout=30)
        assert text_of(reply) == (
            "Job chatjob added (every 2 s). 任务 chatjob 已添加。"
        )
        await eventually(lambda: len(peer.group_sends("from chat")) >= 1, 30)
        await peer.send_event(peer.private_message("/schedule list", user_id=30001))
        await peer.wait_sends(2, timeout=30)
        assert text_of(peer.sends()[1]) == (
            "Only superusers can manage schedules. 仅超级用户可管理定时任务。"
        )
        await peer.send_event(
            peer.private_message("/schedule remove nosuch", user_id=12345)
        )
        await peer.wait_sends(3, timeout=30)
        assert text_of(peer.sends()[2]) == "no job named 'nosuch'"
        await peer.send_event(
            peer.private_message("/schedule remove chatjob", user_id=12345)
        )
        await peer.wait_sends(4, timeout=30)
        assert "任务 chatjob 已删除" in text_of(peer.sends()[3])
    finally:
        await peer.close()
    listed = await asyncio.to_thread(bp.cli, "schedule", "list")
    assert listed == "No scheduled jobs. 暂无定时任务。"
