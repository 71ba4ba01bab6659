"""WeChat's retries: the same MsgId 3 times (at 0/5/10 s, concurrently, and split
across two instances sharing Redis) leads to one model call and one answer, and
every HTTP response comes within the 4.5 s window even when the model is slow."""

from __future__ import annotations

import asyncio

import httpx
from fake_wechat import Account, FakeWeChatAPI, WeChatPoster, text_message
from mp_harness import ScriptedLLM

WINDOW = 4.5


def _passive(
    poster: WeChatPoster, responses: list[tuple[float, httpx.Response]]
) -> list[str]:
    out = []
    for _, resp in responses:
        reply = poster.open_reply(resp)
        if reply is not None:
            out.append(reply["Content"])
    return out


async def _wait_sent(api: FakeWeChatAPI, n: int, limit: float) -> None:
    for _ in range(int(limit / 0.1)):
        if len(api.sent) >= n:
            return
        await asyncio.sleep(0.1)


def _assert_one_answer(
    poster: WeChatPoster,
    responses: list[tuple[float, httpx.Response]],
    api: FakeWeChatAPI,
    llm: ScriptedLLM,
) -> None:
    for took, resp in responses:
        assert resp.status_code == 200
        assert took < WINDOW + 0.4, took  # the handler's own budget is 4.5 s
    passive = _passive(poster, responses)
    by_api = [m["text"]["content"] for m in api.sent]
    assert len(llm.calls) == 1, llm.calls
    assert passive + by_api == [llm.text], (passive, by_api)


async def test_retries_at_0_5_10_seconds_slow_model(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    """WeChat's real schedule; the model needs 30 s, longer than all three windows."""
    llm.delay = 30.0
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account(), encrypted=False)
    responses = await poster.deliver_with_retries(text_message("慢问题"))
    await _wait_sent(wechat_api, 1, limit=25)
    await asyncio.sleep(0.5)
    assert [r.text for _, r in responses] == ["success"] * 3
    _assert_one_answer(poster, responses, wechat_api, llm)


async def test_retry_gets_the_answer_that_came_late(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    """The model is done after the first window but during the retry's."""
    llm.delay = 1.6
    inst = await make_instance(mp_passive_timeout=1.0)
    poster = WeChatPoster(inst.base_url, Account())
    responses = await poster.deliver_with_retries(
        text_message("q"), schedule=(0.0, 1.2, 2.4)
    )
    await asyncio.sleep(1.0)
    _assert_one_answer(poster, responses, wechat_api, llm)


async def test_three_concurrent_copies_fast_model(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 0.5
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account(mode="plaintext"))
    responses = await poster.deliver_with_retries(
        text_message("并发"), schedule=(0.0, 0.0, 0.0)
    )
    await asyncio.sleep(1.0)
    assert len(_passive(poster, responses)) == 1
    _assert_one_answer(poster, responses, wechat_api, llm)


async def test_three_concurrent_copies_slow_model(
    make_instance, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 7.0
    inst = await make_instance()
    poster = WeChatPoster(inst.base_url, Account())
    responses = await poster.deliver_with_retries(
        text_message("并发慢"), schedule=(0.0, 0.0, 0.0)
    )
    assert [r.text for _, r in responses] == ["success"] * 3
    await _wait_sent(wechat_api, 1, limit=6)
    await asyncio.sleep(0.5)
    _assert_one_answer(poster, responses, wechat_api, llm)


async def test_copies_split_across_two_instances_sharing_redis(
    make_instance, redis_states, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 3.0
    account = Account(mode="safe")
    a = await make_instance(account, state=redis_states(), mp_passive_timeout=2.0)
    b = await make_instance(account, state=redis_states(), mp_passive_timeout=2.0)
    pa = WeChatPoster(a.base_url, account, encrypted=True)
    pb = WeChatPoster(b.base_url, account, encrypted=True)
    fields = text_message("两台机器")

    async def at(poster: WeChatPoster, delay: float) -> tuple[float, httpx.Response]:
        await asyncio.sleep(delay)
        return await poster.post(poster.delivery(fields))

    responses = list(
        await asyncio.gather(at(pa, 0.0), at(pb, 0.0), at(pb, 1.5), at(pa, 2.5))
    )
    await _wait_sent(wechat_api, 1, limit=4)
    await asyncio.sleep(0.5)
    _assert_one_answer(pa, responses, wechat_api, llm)
    # one stable_token fetch: the token is shared through Redis too
    assert len(wechat_api.token_calls) <= 1


async def test_two_instances_slow_model_answer_by_api_once(
    make_instance, redis_states, llm: ScriptedLLM, wechat_api: FakeWeChatAPI
) -> None:
    llm.delay = 4.0
    account = Account()
    a = await make_instance(account, state=redis_states(), mp_passive_timeout=1.0)
    b = await make_instance(account, state=redis_states(), mp_passive_timeout=1.0)
    pa, pb = WeChatPoster(a.base_url, account), WeChatPoster(b.base_url, account)
    fields = text_message("慢且分散")
    responses = list(
        await asyncio.gather(
            pa.post(pa.delivery(fields)),
            pb.post(pb.delivery(fields)),
            pb.post(pb.delivery(fields)),
        )
    )
    await _wait_sent(wechat_api, 1, limit=6)
    await asyncio.sleep(0.5)
    assert [r.text for _, r in responses] == ["success"] * 3
    _assert_one_answer(pa, responses, wechat_api, llm)
