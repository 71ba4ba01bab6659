"""10,000 malformed frames interleaved with valid events: the socket stays open, every
valid event is answered, memory stays flat."""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Iterator
from typing import Any

from adapters.qq import Adapter
from tests.adapters.qq.adapter_harness import Answerer, eventually
from tests.adapters.qq.napcat import NapCat, text_of

TOKEN = "t0ken-for-tests"
MALFORMED = int(__import__("os").environ.get("QQ_MALFORMED", "10000"))
EVERY = 100  # one valid event after this many malformed frames
UNDECODABLE = {0, 1, 2, 3, 4, 5, 6, 23}  # indexes of the kinds below


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def malformed(peer: NapCat, rng: random.Random) -> Iterator[tuple[bool, str | bytes]]:
    """An endless mix of every kind of bad frame we know of, each with whether it
    is undecodable (not a JSON object) and so must be counted as a bad frame."""
    valid = peer.group_message("x")
    kinds: list[Any] = [
        lambda: "{",
        lambda: "not json at all",
        lambda: b"\xff\xfe\x00binary",
        lambda: "[1, 2, 3]",
        lambda: "null",
        lambda: '"just a string"',
        lambda: "[" * 50_000 + "]" * 50_000,  # deep nesting: RecursionError
        lambda: json.dumps({**valid, "user_id": "not-a-number"}),
        lambda: json.dumps({**valid, "message": 5}),
        lambda: json.dumps({**valid, "message": [{"type": 1}]}),
        lambda: json.dumps({**valid, "post_type": 123}),
        lambda: json.dumps({**valid, "post_type": {"a": 1}}),
        lambda: json.dumps({**valid, "post_type": "no-such-type"}),
        lambda: json.dumps({**valid, "notice_type": "group_upload"}),  # two kinds
        lambda: json.dumps({**valid, "self_id": []}),
        lambda: json.dumps({**valid, "time": "yesterday"}),
        lambda: json.dumps({**valid, "sender": "me"}),
        lambda: json.dumps({**valid, "message_id": None, "user_id": None}),
        lambda: json.dumps({"echo": {"nested": True}, "status": "ok"}),
        lambda: json.dumps({"echo": "abc-not-decimal", "status": "ok", "data": None}),
        lambda: json.dumps({"echo": 99999999999999999999999, "retcode": 0}),
        lambda: json.dumps(
            {
                **valid,
                "message": [{"type": "text", "data": {"text": "y" * 200_000}}],
                "user_id": "bad",
            }
        ),
        lambda: json.dumps({"post_type": "message", "deep": _nested(400)}),
        lambda: "x" * 300_000,
    ]
    while True:
        index = rng.randrange(len(kinds))
        yield index in UNDECODABLE, kinds[index]()


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"a": [value]}
    return value


async def test_malformed_flood_keeps_socket_and_answers_all(
    serve: Any, answerer: Answerer
) -> None:
    # the flood outruns NapCat's API replies (queued behind it on the same socket),
    # so every valid event is in flight at once: this test is not about shedding
    config = {"qq_access_token": TOKEN, "qq_min_interval": 0, "qq_max_in_flight": 1000}
    served = await serve(Adapter, config)
    peer = await NapCat(f"{served.ws_base}/onebot/v11/ws", 10001, TOKEN).connect()
    rng = random.Random(6)
    frames = malformed(peer, rng)
    # warm up so imports and caches are not counted as growth
    await peer.send_event(peer.group_message("warm-up"))
    await peer.wait_sends(1)
    gc.collect()
    before = rss_mb()
    valid = 0
    undecodable = 0
    try:
        for i in range(MALFORMED):
            must_reject, frame = next(frames)
            undecodable += must_reject
            await peer.send_raw(frame)
            if i % EVERY == EVERY - 1:
                await peer.send_event(peer.group_message(f"valid {valid}"))
                valid += 1
                # like a live peer, frames arrive over time rather than as one
                # backlog: wait for the answer every 10 valid events
                if valid % 10 == 0:
                    await peer.wait_sends(valid + 1, timeout=60)
        try:
            await peer.wait_sends(valid + 1, timeout=120)
        finally:
            texts = {text_of(c) for c in peer.sends()}
            missing = {f"echo: valid {n}" for n in range(valid)} - texts
            assert not missing, (len(missing), sorted(missing)[:5], peer.error)
        assert not peer.closed.is_set()
        assert "10001" in served.adapter.connections
        assert served.adapter.bad_frames.total >= undecodable > MALFORMED / 4
        gc.collect()
        growth = rss_mb() - before
        assert growth < 50, f"RSS grew {growth:.1f} MB"
        assert len(served.adapter.echoes) == 0
        await eventually(lambda: served.adapter.gate.in_flight() == 0)
    finally:
        await peer.close()
