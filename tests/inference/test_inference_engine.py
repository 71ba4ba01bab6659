"""The engine alone: isolation between rows, sampling settings, bounds, cancel."""

from __future__ import annotations

import asyncio

import pytest

from inference.config import InferenceConfig
from inference.engine import Engine
from inference.exceptions import PromptTooLongError
from inference.loader import LoadedModel
from inference.sampling import SamplingParams

PROMPTS = [f"第{i}个问题: what is {i} * {i + 3}? " * (1 + i % 4) for i in range(16)]


def prompt_ids(loaded: LoadedModel, text: str) -> list[int]:
    encoded = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
    )
    return list(encoded["input_ids"])


async def run(
    engine: Engine, ids: list[int], params: SamplingParams
) -> tuple[str, str]:
    request = engine.submit(ids, params)
    text, finish = [], ""
    async for event in request.stream():
        text.append(event.text)
        finish = event.finish_reason or finish
    return "".join(text), finish


async def alone_and_together(
    engine: Engine, loaded: LoadedModel, params: list[SamplingParams]
) -> tuple[list[str], list[str]]:
    ids = [prompt_ids(loaded, p) for p in PROMPTS]
    alone = [(await run(engine, i, p))[0] for i, p in zip(ids, params, strict=True)]
    together = await asyncio.gather(
        *(run(engine, i, p) for i, p in zip(ids, params, strict=True))
    )
    return alone, [t for t, _ in together]


async def test_greedy_batch_matches_alone(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    params = [SamplingParams(max_tokens=24 + i, temperature=0.0) for i in range(16)]
    alone, together = await alone_and_together(engine, demo_loaded, params)
    assert together == alone
    assert len(set(alone)) > 4  # the prompts really lead to different outputs


async def test_seeded_sampling_batch_matches_alone(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    params = [
        SamplingParams(max_tokens=20, temperature=0.9, top_p=0.9, seed=i)
        for i in range(16)
    ]
    alone, together = await alone_and_together(engine, demo_loaded, params)
    assert together == alone
    assert len(set(alone)) == 16


async def test_sampling_settings_are_per_request(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    ids = prompt_ids(demo_loaded, "你好")
    greedy = SamplingParams(max_tokens=16, temperature=0.0)
    hot = [SamplingParams(max_tokens=16, temperature=1.5, seed=s) for s in range(4)]
    results = await asyncio.gather(
        run(engine, ids, greedy),
        *(run(engine, ids, p) for p in hot),
        run(engine, ids, greedy),
    )
    assert results[0] == results[-1]
    assert len({text for text, _ in results[1:-1]}) == 4


async def test_stop_string_and_max_tokens(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    ids = prompt_ids(demo_loaded, PROMPTS[3])
    full, finish = await run(
        engine, ids, SamplingParams(max_tokens=30, temperature=0.0)
    )
    assert finish == "length"
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut, finish = await run(
        engine, ids, SamplingParams(max_tokens=30, temperature=0.0, stop=(stop,))
    )
    assert finish == "stop"
    assert cut == full[: full.index(stop)]


async def test_prompt_over_limit_is_rejected(demo_loaded: LoadedModel) -> None:
    config = InferenceConfig(model=demo_loaded.source, max_prompt_tokens=8)
    eng = Engine(demo_loaded, config)
    eng.start()
    try:
        with pytest.raises(PromptTooLongError, match="limit of 8"):
            eng.submit(list(range(100, 120)), SamplingParams(max_tokens=4))
    finally:
        await eng.stop()


async def test_kv_budget_bounds_the_batch(demo_loaded: LoadedModel) -> None:
    # 4 rows of (prompt + 32) tokens do not all fit in 256 slots at once.
    config = InferenceConfig(model=demo_loaded.source, kv_cache_tokens=256)
    eng = Engine(demo_loaded, config)
    eng.start()
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, eng.running)
            await asyncio.sleep(0.001)

    watcher = asyncio.ensure_future(watch())
    try:
        ids = [prompt_ids(demo_loaded, p) for p in PROMPTS[:4]]
        assert sum(len(i) + 32 for i in ids) > 256
        results = await asyncio.gather(
            *(run(eng, i, SamplingParams(max_tokens=32, temperature=0.0)) for i in ids)
        )
        assert all(finish == "length" for _, finish in results)
        assert 1 <= peak < 4
        assert 0 < eng.cache_tokens_peak <= 256
    finally:
        watcher.cancel()
        await eng.stop()


async def test_cancel_removes_row(engine: Engine, demo_loaded: LoadedModel) -> None:
    request = engine.submit(
        prompt_ids(demo_loaded, "long"), SamplingParams(max_tokens=100_000)
    )
    await request.events.get()
    assert engine.running == 1
    request.cancel()
    for _ in range(500):
        if engine.running == 0 and not engine.live:
            break
        await asyncio.sleep(0.01)
    assert engine.running == 0
    assert not engine.live
