"""OneBot v11 load benchmark: bare NoneBot2 vs FreeChat, in the same run.

A NapCat-like load generator (reverse WebSocket client: lifecycle connect, group
messages in array format with an @ of the bot, echo-matched API replies) drives

(a) bare NoneBot2 + the stock ``nonebot-adapter-onebot`` + an echo handler, and
(b) FreeChat (``freechat run``) with the QQ adapter, every default plugin of the
    middleware chain on (limits raised so they pass) and an instant
    OpenAI-compatible stub as the LLM,

each a fresh process per repeat, interleaved (a, b, a, b, ...). Per system and
repeat: the capacity (closed loop, 8 in flight), then open-loop offered rates of
0.5x, 1x, 2x and 5x that capacity: sustained replies/s during the window, p50/p99
latency of the answered messages, the server's peak RSS, and the replies/s as a
share of the capacity probed again just before the level ("of cap."; the machine's
speed drifts during a run, and the first probe may be half a minute old).

    python bench/onebot.py            # 5 repeats, 6 s per level
    python bench/onebot.py --quick    # 1 repeat, 2 s per level
    python bench/onebot.py --with-plugins  # also (p): (b) + community plugins
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SELF_ID = 10001
TOKEN = "bench-token"
LEVELS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
#: --same-load: a finer sweep, as multiples of the first system's capacity
SAME_LOAD_LEVELS = "0.3,0.4,0.5,0.6,0.7,0.8,1.0"
#: messages kept in flight by the capacity probe (below the adapter's per-bot bound,
#: so the probe measures speed, not shedding)
CLOSED_LOOP = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ------------------------------------------------------------------- servers
def serve_bare(port: int, ours: bool = False) -> None:
    """(a): NoneBot2, the stock OneBot v11 adapter and an echo handler; with
    ``ours``, (c): the same with FreeChat's QQ adapter instead of the stock one."""
    import nonebot
    import uvicorn
    from nonebot import on_message
    from nonebot.adapters.onebot.v11 import Adapter, Bot, MessageEvent

    nonebot.init(
        driver="~fastapi",
        host="127.0.0.1",
        port=port,
        onebot_access_token=TOKEN,
        qq_access_token=TOKEN,
    )
    if ours:
        sys.path.insert(0, str(ROOT))
        from adapters.qq import Adapter as QQAdapter

        nonebot.get_driver().register_adapter(QQAdapter)
    else:
        nonebot.get_driver().register_adapter(Adapter)
    echo = on_message()

    @echo.handle()
    async def _(bot: Bot, event: MessageEvent) -> None:
        await bot.send(event, event.get_plaintext(), reply_message=True)

    uvicorn.run(nonebot.get_app(), host="127.0.0.1", port=port, log_level="warning")


def serve_stub(port_file: str) -> None:
    """The instant OpenAI-compatible LLM."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.openai_stub import OpenAIStub

    # a stub that kept every request grew through the run, and its garbage
    # collections delayed answers: the later repeats measured the stub
    stub = OpenAIStub(max_requests=100)
    stub.set_default("pong", chunk_chars=16)
    stub.start()
    gc.collect()
    gc.freeze()
    Path(port_file).write_text(stub.base_url)
    while True:
        time.sleep(3600)


#: ``--with-plugins``: the community plugins of tests/compat (pinned in the dev extra)
COMPAT_PLUGINS = [
    "nonebot_plugin_alconna.builtins.plugins.echo",
    "nonebot_plugin_alconna.builtins.plugins.help",
    "nonebot_plugin_apscheduler",
    "nonebot_plugin_localstore",
    "nonebot_plugin_status",
    "nonebot_plugin_blacklist",
    "nonebot_plugin_repeater",
]


def freechat_config(
    port: int, llm: str, data: Path, with_plugins: bool = False
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if with_plugins:
        store = data / "localstore"
        extra = {
            "extra_plugins": COMPAT_PLUGINS,
            "nonebot": {
                "repeater_group": ["all"],
                "localstore_data_dir": str(store / "data"),
                "localstore_cache_dir": str(store / "cache"),
                "localstore_config_dir": str(store / "config"),
            },
        }
    return {
        **extra,
        "data_dir": str(data),
        "server": {"host": "127.0.0.1", "port": port, "log_level": "INFO"},
        "database": {"url": f"sqlite://{data}/freechat.db"},
        "state": {"url": "memory://"},
        "llm": {"base_url": llm, "model": "stub-model"},
        "inference": {"enabled": False},
        "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0, **QQ_EXTRA}},
        "plugins": PLUGINS,
    }


#: every default plugin on, with limits raised so the load passes through them
ALL_PLUGINS: dict[str, dict[str, Any]] = {
    "chat": {},
    "admin": {},
    "rate_limit": {"user": 1_000_000, "group": 1_000_000},
    "sensitive_words": {},
    "keywords": {},
    "history": {},
    "token_budget": {"tokenizer": "estimate"},
}
PLUGINS = dict(ALL_PLUGINS)
QQ_EXTRA: dict[str, Any] = {}
#: where the servers' output goes (--server-log), or nowhere
SERVER_LOG = ""


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: tempfile.TemporaryDirectory[str] | None = None

    def pid(self) -> int:
        """The serving process (the python child for ``freechat run``)."""
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.workdir is not None:
            self.workdir.cleanup()


def start_server(name: str, llm: str) -> Server:
    import yaml

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("FREECHAT__")}
    if name in ("a", "c"):
        cmd = [sys.executable, __file__, "--serve-bare", str(port)]
        if name == "c":
            cmd.append("--ours")
        workdir = None
    else:
        workdir = tempfile.TemporaryDirectory(prefix="fc-bench-")
        data = Path(workdir.name) / "data"
        data.mkdir()
        config = Path(workdir.name) / "freechat.yml"
        config.write_text(
            yaml.safe_dump(freechat_config(port, llm, data, with_plugins=name == "p"))
        )
        cmd = [
            sys.executable, "-m", "bot.cli", "--config", str(config), "run",
            "--no-ui-build",
        ]  # fmt: skip
    log = open(SERVER_LOG, "ab") if SERVER_LOG else subprocess.DEVNULL
    proc = subprocess.Popen(
        cmd,
        cwd=workdir.name if workdir else ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    return Server(name, proc, port, workdir)


async def wait_ready(server: Server, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server {server.name} exited")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            await asyncio.sleep(2.0 if server.name in "bp" else 0.5)
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server {server.name} did not start")


# ------------------------------------------------------------ load generator
@dataclass
class NapCatLoad:
    """A NapCat-like reverse-WS client that measures answers by reply id."""

    url: str
    ws: Any = None
    sent_at: dict[int, float] = field(default_factory=dict)
    answered: dict[int, float] = field(default_factory=dict)
    next_id: int = 1
    reader: asyncio.Task[None] | None = None
    answer_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self) -> None:
        import websockets

        self.ws = await websockets.connect(
            self.url,
            additional_headers={
                "X-Self-ID": str(SELF_ID),
                "Authorization": f"Bearer {TOKEN}",
                "X-Client-Role": "Universal",
                "User-Agent": "OneBot/11",
            },
            max_size=None,
        )
        await self.ws.send(
            json.dumps(
                {
                    "time": int(time.time()),
                    "self_id": SELF_ID,
                    "post_type": "meta_event",
                    "meta_event_type": "lifecycle",
                    "sub_type": "connect",
                }
            )
        )
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if "action" not in frame:
                    continue
                message = frame.get("params", {}).get("message") or []
                if isinstance(message, list) and message:
                    first = message[0]
                    if first.get("type") == "reply":
                        mid = int(first["data"]["id"])
                        if mid in self.sent_at and mid not in self.answered:
                            self.answered[mid] = now
                            self.answer_event.set()
                await self.ws.send(
                    json.dumps(
                        {
                            "status": "ok",
                            "retcode": 0,
                            "data": {"message_id": 1},
                            "echo": frame.get("echo"),
                        }
                    )
                )

    def event(self) -> tuple[int, str]:
        mid = self.next_id
        self.next_id += 1
        user = 100000 + mid % 5000
        group = 200000 + mid % 50
        text = f"hello {mid}"
        frame = {
            "time": int(time.time()),
            "self_id": SELF_ID,
            "post_type": "message",
            "message_type": "group",
            "sub_type": "normal",
            "message_id": mid,
            "group_id": group,
            "user_id": user,
            "anonymous": None,
            "message": [
                {"type": "at", "data": {"qq": str(SELF_ID)}},
                {"type": "text", "data": {"text": " " + text}},
            ],
            "raw_message": f"[CQ:at,qq={SELF_ID}] {text}",
            "font": 14,
            "sender": {"user_id": user, "nickname": "u", "role": "member"},
            "message_format": "array",
        }
        return mid, json.dumps(frame)

    async def send_one(self) -> int:
        mid, raw = self.event()
        self.sent_at[mid] = time.perf_counter()
        await self.ws.send(raw)
        return mid

    async def closed_loop(self, concurrency: int, seconds: float) -> float:
        """Replies/s with ``concurrency`` messages always in flight."""
        stop = time.perf_counter() + seconds
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                mid = await self.send_one()
                give_up = time.perf_counter() + 2.0  # unanswered (shed): go on
                while mid not in self.answered and time.perf_counter() < give_up:
                    self.answer_event.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.answer_event.wait(), 0.5)
                done += mid in self.answered

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)

    async def open_loop(
        self, rate: float, seconds: float, pid: int, grace: float = 3.0
    ) -> dict[str, float]:
        """Offer ``rate`` msgs/s for ``seconds``; measure what comes back."""
        first_id = self.next_id
        start = time.perf_counter()
        end = start + seconds
        sent = 0
        peak = rss_mb(pid)
        tick = 0.01
        next_sample = start
        while (now := time.perf_counter()) < end:
            due = int((now - start) * rate) - sent
            for _ in range(max(0, due)):
                await self.send_one()
                sent += 1
            if now >= next_sample:
                peak = max(peak, rss_mb(pid))
                next_sample = now + 0.5
            await asyncio.sleep(tick)
        sent_end = time.perf_counter()
        deadline = sent_end + grace
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.25)
            peak = max(peak, rss_mb(pid))
        ids = range(first_id, self.next_id)
        in_window = [m for m in ids if m in self.answered and self.answered[m] <= end]
        lat = sorted(
            (self.answered[m] - self.sent_at[m]) * 1000
            for m in ids
            if m in self.answered
        )
        return {
            "offered": sent / (sent_end - start),
            "replies": len(in_window) / seconds,
            "answered": len(lat) / max(1, sent),
            "p50": statistics.median(lat) if lat else float("nan"),
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            if lat
            else float("nan"),
            "rss": peak,
        }


# ------------------------------------------------------------------- driver
def machine_speed() -> float:
    """Millions of additions a second in one Python thread: a fixed piece of work,
    timed before each server starts, to show how this (shared) machine's speed
    drifts between repeats."""
    n = 2_000_000
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return n / (time.perf_counter() - start) / 1e6


def sustained(levels: dict[float, dict[str, float]]) -> float:
    """The best replies/s at a level answered in full (99 %) with p99 under 1 s:
    a rate the system keeps up with, not a burst."""
    kept = [
        row["replies"]
        for row in levels.values()
        if row["answered"] >= 0.99 and row["p99"] < 1000
    ]
    return max(kept, default=0.0)


async def run_system(
    name: str, llm: str, seconds: float, base: float | None = None
) -> dict[str, Any]:
    """One fresh server: its capacity, then the offered levels, as multiples of
    its own capacity or, with ``base``, of that rate (the same load for all)."""
    speed = machine_speed()
    server = start_server(name, llm)
    try:
        await wait_ready(server)
        load = NapCatLoad(f"ws://127.0.0.1:{server.port}/onebot/v11/ws")
        await load.connect()
        await asyncio.sleep(0.5)
        await load.closed_loop(4, 1.0)  # warm-up
        probe = max(2.0, seconds / 2)
        capacity = await load.closed_loop(CLOSED_LOOP, probe)
        levels = {}
        for i, factor in enumerate(LEVELS):
            # the machine's speed drifts within a run (a shared VM): each level is
            # also compared with a capacity probed just before it
            near = capacity if i == 0 else await load.closed_loop(CLOSED_LOOP, probe)
            row = await load.open_loop(
                (base or capacity) * factor, seconds, server.pid()
            )
            row["near_cap"] = near
            row["of_cap"] = row["replies"] / near if near else 0.0
            levels[factor] = row
        await load.close()
        return {
            "capacity": capacity,
            "speed": speed,
            "levels": levels,
            "sustained": sustained(levels),
            "idle_rss": rss_mb(server.pid()),
        }
    finally:
        server.stop()


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    out: dict[str, Any] = {
        "capacity": med([r["capacity"] for r in runs]),
        "sustained": med([r["sustained"] for r in runs]),
        "speed": (min(r["speed"] for r in runs), max(r["speed"] for r in runs)),
        "levels": {},
    }
    for factor in LEVELS:
        rows = [r["levels"][factor] for r in runs]
        out["levels"][factor] = {
            key: med([row[key] for row in rows]) for key in rows[0]
        }
    return out


def print_table(
    results: dict[str, dict[str, Any]],
    repeats: int,
    seconds: float,
    same_load: bool = False,
) -> None:
    print(
        f"\nOneBot v11 load, {repeats} interleaved repeat(s), {seconds:.0f} s per level,"
        f" medians; machine: {os.cpu_count()} cores shared with the load generator"
    )
    labels = {
        "a": "(a) bare NoneBot2 + echo",
        "b": "(b) FreeChat full chain",
        "c": "(c) our QQ adapter + echo",
        "p": "(p) (b) + 7 community plugins",
    }
    header = (
        f"{'system':<26}{'level':>6}{'offered/s':>11}{'replies/s':>11}"
        f"{'answered':>10}{'p50 ms':>9}{'p99 ms':>10}{'RSS MB':>8}{'of cap.':>9}"
    )
    low = min(res["speed"][0] for res in results.values())
    high = max(res["speed"][1] for res in results.values())
    print(f"machine speed before the repeats: {low:.1f}-{high:.1f} M adds/s")
    print(header)
    print("-" * len(header))
    for name, res in results.items():
        print(f"{labels[name]:<26}{'cap':>6}{'':>11}{res['capacity']:>11.0f}")
        if res["levels"]:
            print(f"{'':<26}{'sust.':>6}{'':>11}{res['sustained']:>11.0f}")
        for factor, row in res["levels"].items():
            print(
                f"{'':<26}{factor:>5}x{row['offered']:>11.0f}{row['replies']:>11.0f}"
                f"{row['answered']:>9.0%}{row['p50']:>9.1f}{row['p99']:>10.1f}"
                f"{row['rss']:>8.0f}{row['of_cap']:>9.0%}"
            )
    a, b = results.get("a"), results.get("b")
    if a and b:
        ratio = b["capacity"] / a["capacity"]
        print("\ntargets:")
        print(f"  (b) capacity / (a) capacity = {ratio:.0%} (target >= 70%)")
        if a["levels"] and a["sustained"]:
            kept = b["sustained"] / a["sustained"]
            print(
                f"  (b) sustained / (a) sustained = {kept:.0%}"
                " (best replies/s answered in full with p99 < 1 s)"
            )
    p = results.get("p")
    if b and p:
        print(
            f"  (p) capacity / (b) capacity = {p['capacity'] / b['capacity']:.0%}"
            " (target >= 80%)"
        )
        if 0.5 in p["levels"]:
            print(
                f"  (p) p99 at 0.5x = {p['levels'][0.5]['p99']:.1f} ms (target < 25 ms)"
            )
    if same_load:
        print("  (levels are multiples of (a)'s capacity, the same load for both)")
        return
    if b and 0.5 in b["levels"]:
        half = b["levels"][0.5]
        print(f"  (b) p99 at 0.5x = {half['p99']:.1f} ms (target < 25 ms)")
    if b and 5.0 in b["levels"]:
        five = b["levels"][5.0]
        print(
            f"  (b) at 5x: {five['of_cap']:.0%} of capacity answered/s"
            f" (target >= 80%; capacity probed just before: {five['near_cap']:.0f}/s;"
            f" against the first probe {five['replies'] / b['capacity']:.0%}),"
            f" p99 {five['p99']:.0f} ms (target < 1000), RSS {five['rss']:.0f} MB"
            " (target < 250)"
        )


async def main(args: argparse.Namespace) -> None:
    # the load generator timestamps answers: its own collections must not pause it
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "stub"
        stub = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [sys.executable, __file__, "--serve-stub", str(port_file)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                if port_file.exists():
                    break
                await asyncio.sleep(0.1)
            llm = port_file.read_text().strip()
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in args.systems}
            for i in range(args.repeats):
                base: float | None = None
                for name in args.systems:
                    res = await run_system(name, llm, args.seconds, base)
                    if args.same_load and base is None:
                        base = res["capacity"]  # the first system's, for the rest
                    runs[name].append(res)
                    print(
                        f"repeat {i + 1} {name}: machine {res['speed']:.1f} M adds/s,"
                        f" capacity {res['capacity']:.0f}/s, "
                        + ", ".join(
                            f"{f}x {r['replies']:.0f}/s p99 {r['p99']:.0f}ms"
                            for f, r in res["levels"].items()
                        ),
                        flush=True,
                    )
            print_table(
                {n: summarise(r) for n, r in runs.items()},
                args.repeats,
                args.seconds,
                args.same_load,
            )
        finally:
            stub.terminate()
            stub.wait(10)


def cli() -> None:
    global LEVELS, SERVER_LOG
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s levels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--systems",
        default="ab",
        help="any of a (bare), b (FreeChat), c (our adapter + echo), p (FreeChat"
        " with community plugins): 'ab', 'abc'",
    )
    parser.add_argument(
        "--with-plugins",
        action="store_true",
        help="add (p): FreeChat with the community plugins of tests/compat",
    )
    parser.add_argument(
        "--levels",
        default=None,
        help="offered rates as multiples of capacity ('' for capacity only)",
    )
    parser.add_argument(
        "--same-load",
        action="store_true",
        help="offer every system the same rates: multiples of the first system's"
        " capacity in that repeat (default levels then 0.3,0.4,...,1.0)",
    )
    parser.add_argument("--server-log", help="append the servers' output to this file")
    parser.add_argument("--ours", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--plugins",
        help="comma-separated plugins for (b) (default: all, for profiling)",
    )
    parser.add_argument(
        "--qq",
        action="append",
        help="QQ adapter setting for (b), KEY=JSON (repeatable)",
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-stub", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.ours)
        return
    if args.serve_stub:
        serve_stub(args.serve_stub)
        return
    for item in args.qq or []:
        key, _, value = item.partition("=")
        QQ_EXTRA[key] = json.loads(value)
    if args.plugins:
        PLUGINS.clear()
        PLUGINS.update({p: ALL_PLUGINS.get(p, {}) for p in args.plugins.split(",")})
    SERVER_LOG = args.server_log or ""
    if args.quick:
        args.repeats, args.seconds = 1, 2.0
    if args.levels is None:
        args.levels = SAME_LOAD_LEVELS if args.same_load else ",".join(map(str, LEVELS))
    LEVELS = tuple(float(f) for f in args.levels.split(",") if f)
    args.systems = list(args.systems)
    if args.with_plugins and "p" not in args.systems:
        args.systems.append("p")
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
