"""Prefix caching and chunked prefill, counted by the engine's own figures."""

from __future__ import annotations

import asyncio

from inference.config import InferenceConfig
from inference.engine import Engine
from inference.loader import LoadedModel
from inference.prefix_cache import PrefixCache
from inference.sampling import SamplingParams
from tests.inference.test_inference_engine import run

CHUNK = 16
SYSTEM = "你是一个乐于助人的助手。You answer briefly and politely. " * 4


def chat(loaded: LoadedModel, *turns: str) -> list[int]:
    """Prompt ids of a conversation: user, assistant, user, ... (then the header)."""
    roles = ["user", "assistant"]
    messages = [{"role": "system", "content": SYSTEM}] + [
        {"role": roles[i % 2], "content": text} for i, text in enumerate(turns)
    ]
    encoded = loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True
    )
    return list(encoded["input_ids"])


async def started(loaded: LoadedModel, **settings: int) -> Engine:
    eng = Engine(loaded, InferenceConfig(model=loaded.source, **settings))
    eng.start()
    return eng


GREEDY = SamplingParams(max_tokens=12, temperature=0.0)
# Still greedy, but penalties make the random model's output depend on the prompt.
VARIED = SamplingParams(
    max_tokens=12, temperature=0.0, repetition_penalty=1.3, presence_penalty=1.0
)


async def test_next_turn_prefills_only_new_tokens(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    first = chat(demo_loaded, "第一个问题: what is a cat?")
    answer, _ = await run(engine, first, GREEDY)
    assert engine.prefill_tokens_total == len(first)
    assert engine.cached_tokens_total == 0
    second = chat(demo_loaded, "第一个问题: what is a cat?", answer, "and a dog?")
    assert second[: len(first)] == first
    await run(engine, second, GREEDY)
    block = engine.config.prefix_block_tokens
    cached = len(first) // block * block
    assert engine.cached_tokens_total == cached
    assert engine.prefill_tokens_total == len(first) + len(second) - cached
    # Same prompt again: everything but the last (partial) block comes from the cache.
    before = engine.prefill_tokens_total
    await run(engine, second, GREEDY)
    assert engine.prefill_tokens_total - before <= block


async def test_shared_system_prompt_is_reused_across_chats(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    await run(engine, chat(demo_loaded, "hello"), GREEDY)
    other = chat(demo_loaded, "a different user asks something else")
    await run(engine, other, GREEDY)
    system = chat(demo_loaded)  # the system prompt and the header alone
    assert (
        engine.cached_tokens_total
        >= len(system) - 2 * engine.config.prefix_block_tokens
    )


async def test_lru_bound_evicts(demo_loaded: LoadedModel) -> None:
    eng = await started(demo_loaded, prefix_cache_tokens=64)
    try:
        first = chat(demo_loaded, "question one")
        assert len(first) > 64
        await run(eng, first, GREEDY)
        assert eng.prefix_cache.tokens == 64
        before = eng.cached_tokens_total
        await run(eng, first, GREEDY)
        assert eng.cached_tokens_total - before == 64  # its first blocks stayed
        for i in range(3):
            await run(eng, [5000 + i, *range(100, 180)], GREEDY)
            assert eng.prefix_cache.tokens <= 64
        before = eng.cached_tokens_total
        await run(eng, first, GREEDY)
        assert eng.cached_tokens_total == before  # evicted by the newer prompts
        assert eng.prefix_cache.evicted_blocks > 0
    finally:
        await eng.stop()


async def test_greedy_outputs_equal_with_and_without_cache(
    demo_loaded: LoadedModel,
) -> None:
    turns = ["第一个问题", "an answer", "第二个问题 about dogs", "more", "最后"]
    prompts = [chat(demo_loaded, *turns[: k + 1]) for k in range(0, 5, 2)]
    prompts += [chat(demo_loaded, f"用户{i}的问题 number {i}") for i in range(6)]
    outputs = []
    for cache in (0, 8192):
        eng = await started(demo_loaded, prefix_cache_tokens=cache)
        try:
            alone = [(await run(eng, p, VARIED))[0] for p in prompts]
            together = await asyncio.gather(*(run(eng, p, VARIED) for p in prompts))
            outputs.append((alone, [t for t, _ in together]))
            assert (eng.cached_tokens_total > 0) is (cache > 0)
        finally:
            await eng.stop()
    (plain_alone, plain_together), (cached_alone, cached_together) = outputs
    assert plain_alone == plain_together == cached_alone == cached_together
    assert len(set(plain_alone)) > 3


def test_prefix_cache_keys_chain_whole_prefixes() -> None:
    import torch

    cache = PrefixCache(block_tokens=2, max_tokens=100)
    kv = [(torch.arange(10.0).reshape(1, 10, 1), torch.zeros(1, 10, 1))]
    cache.store([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], kv)
    cached, got = cache.match([1, 2, 3, 4, 9, 9, 9])
    assert cached == 4
    assert got is not None
    assert got[0][0].flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    # Same tokens at another place in the prompt are not the same block.
    assert cache.match([9, 9, 3, 4, 5, 6]) == (0, None)
    # At least one token is left for the model to prefill.
    assert cache.match([1, 2, 3, 4])[0] == 2


async def test_chunked_prefill_keeps_streams_flowing(
    demo_loaded: LoadedModel,
) -> None:
    """A 600-token prompt is admitted in 16-token chunks while another request
    streams: the running stream gets a token after (nearly) every chunk."""
    eng = await started(demo_loaded, prefill_chunk_tokens=CHUNK, prefix_cache_tokens=0)
    try:
        running = eng.submit(
            chat(demo_loaded, "stream"),
            SamplingParams(max_tokens=2000, temperature=0.0, ignore_eos=True),
        )
        await running.events.get()  # it is decoding
        long_prompt = chat(demo_loaded, "长 " * 600)
        chunks = len(long_prompt) // 16
        assert chunks > 30
        seen_at_submit = eng.tokens_total
        joining = eng.submit(long_prompt, SamplingParams(max_tokens=2, temperature=0))
        # The running stream's events keep coming while the long prompt is admitted.
        while joining.first_token_at is None:
            await running.events.get()
        during = eng.tokens_total - seen_at_submit
        assert during >= chunks - 2
        async for _ in joining.stream():
            pass
        running.cancel()
    finally:
        await eng.stop()


async def test_answer_is_cached_for_the_next_turn(
    engine: Engine, demo_loaded: LoadedModel
) -> None:
    first = chat(demo_loaded, "一个问题 about the answer cache")
    request = engine.submit(
        first, SamplingParams(max_tokens=40, temperature=0.0, logprobs=0)
    )
    answer = [item.token async for event in request.stream() for item in event.logprobs]
    assert len(answer) == 40
    follow = [*first, *answer, *range(300, 340)]
    before = engine.cached_tokens_total
    await run(engine, follow, GREEDY)
    block = engine.config.prefix_block_tokens
    # Prompt and answer (but its last token, never fed back) came from the cache.
    assert engine.cached_tokens_total - before == (len(first) + 39) // block * block
