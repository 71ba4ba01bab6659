"""Each sampling field changes what it should (demo model, seeded, token ids).

The demo model's greedy output falls into a loop of one token at once, which
makes the penalties visible: presence pushes every used token down by the same
amount, frequency by more each time, repetition divides the logits of every token
of the prompt and the output.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from inference.engine import Engine
from inference.loader import LoadedModel
from inference.sampling import SamplingParams, TokenLogprob
from tests.inference.test_inference_engine import prompt_ids


async def tokens(
    engine: Engine, loaded: LoadedModel, temperature: float = 0.0, **kw: object
) -> list[TokenLogprob]:
    """32 tokens (eos ignored) with their log-probabilities (top 3)."""
    params = SamplingParams(
        max_tokens=32, temperature=temperature, logprobs=3, ignore_eos=True, **kw
    )  # type: ignore[arg-type]
    request = engine.submit(prompt_ids(loaded, "讲一个故事 about cats"), params)
    out: list[TokenLogprob] = []
    async for event in request.stream():
        out += event.logprobs
    assert len(out) == 32
    return out


def ids(items: list[TokenLogprob]) -> list[int]:
    return [item.token for item in items]


def most_repeated(items: list[TokenLogprob]) -> int:
    return max(Counter(ids(items)).values())


async def test_greedy_loops_without_penalties(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    assert most_repeated(await tokens(engine, demo_loaded)) > 10


async def test_presence_penalty_bans_reuse(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    assert most_repeated(await tokens(engine, demo_loaded, presence_penalty=1.0)) == 1
    # A small flat penalty is overcome by the loop once two tokens carry it.
    assert most_repeated(await tokens(engine, demo_loaded, presence_penalty=0.3)) > 10


async def test_frequency_penalty_grows_with_count(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    # The same small amount per use caps every token at a few repeats.
    assert most_repeated(await tokens(engine, demo_loaded, frequency_penalty=0.3)) <= 4


async def test_repetition_penalty_breaks_the_first_loop(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    greedy = ids(await tokens(engine, demo_loaded))
    penalized = ids(await tokens(engine, demo_loaded, repetition_penalty=1.3))
    assert penalized[0] == greedy[0]  # nothing repeated yet
    assert penalized[1] != greedy[1]
    assert greedy[1] == greedy[0]


async def test_top_k_and_min_p_narrow_the_draw(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    greedy = ids(await tokens(engine, demo_loaded, presence_penalty=1.0))
    hot = await tokens(engine, demo_loaded, 2.0, seed=1, presence_penalty=1.0)
    assert ids(hot) != greedy
    # At temperature 2 the draw leaves the three best tokens almost every time...
    outside = [t for t in hot if t.token not in {tok for tok, _ in t.top}]
    assert len(outside) > 16
    # ...top_k=3 keeps it among them, top_k=1 and min_p=1 make it greedy.
    top3 = await tokens(engine, demo_loaded, 2.0, seed=1, top_k=3)
    assert all(t.token in {tok for tok, _ in t.top} for t in top3)
    for narrow in ({"top_k": 1}, {"min_p": 1.0}):
        picked = await tokens(
            engine, demo_loaded, 2.0, seed=1, presence_penalty=1.0, **narrow
        )
        assert ids(picked) == greedy


async def test_logprobs_are_the_models_distribution(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    for item in await tokens(engine, demo_loaded):
        best_id, best = item.top[0]
        assert item.token == best_id  # greedy takes the most likely token
        assert item.logprob == pytest.approx(best)
        values = [p for _, p in item.top]
        assert values == sorted(values, reverse=True)
        assert all(p <= 0 for p in values)
        assert sum(math.exp(p) for p in values) <= 1.0 + 1e-5
