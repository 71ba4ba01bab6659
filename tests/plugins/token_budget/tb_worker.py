"""One "bot instance" for the cross-process budget test.

``python tb_worker.py REDIS_URL PREFIX N LIMIT`` runs N concurrent requests, each
reserving 200 tokens against one daily user quota of LIMIT through the plugin's core
with RedisState, settles each to its full reservation, and prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from datetime import UTC, datetime

import nonebot

nonebot.init()
nonebot.load_plugin("plugins.token_budget")

from bot.state.redis import RedisState  # noqa: E402
from plugins.token_budget.core import Limits, Refused, quotas_for, reserve  # noqa: E402

COST = 200


async def main(url: str, prefix: str, n: int, limit: int) -> None:
    state = RedisState(url, prefix=prefix)
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    quotas = quotas_for("qq:shared", None, Limits(daily=limit), Limits(), now=now)
    # both processes start together: say ready, then wait for the go signal
    await state.incr("ready", 1, ttl=120)
    for _ in range(12_000):
        if await state.get("go") is not None:
            break
        await asyncio.sleep(0.005)

    async def one() -> int:
        await asyncio.sleep(random.uniform(0, 0.1))  # requests arrive spread out
        result = await reserve(state, quotas, COST)
        if isinstance(result, Refused):
            return 0
        await asyncio.sleep(random.uniform(0.05, 0.2))  # the model answers
        return await result.settle(COST)

    charged = await asyncio.gather(*(one() for _ in range(n)))
    admitted = sum(1 for c in charged if c)
    print(json.dumps({"admitted": admitted, "charged": sum(charged)}), flush=True)
    await state.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
