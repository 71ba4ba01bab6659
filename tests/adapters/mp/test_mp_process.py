"""The Official Account in whole ``freechat run`` processes: two instances sharing
Redis, WeChat's retries at 0/5/10 s spread over both, the real chat plugin and the
OpenAI stub as the model: one model call, one answer, every response in time."""

from __future__ import annotations

import asyncio

from fake_wechat import Account, FakeWeChatAPI, WeChatPoster, text_message

from tests.fakes.openai_stub import OpenAIStub

WINDOW = 4.5


def _config(account: Account, api: FakeWeChatAPI, redis_url: str) -> dict:
    return {
        "state": {"url": redis_url},
        "plugins": {"chat": {}},
        "adapters": {"mp": {"accounts": [account.config()], "api_base": api.base_url}},
    }


async def test_retry_storm_across_two_processes_slow_model(
    bot_process, openai_stub: OpenAIStub, wechat_api: FakeWeChatAPI, redis_url: str
) -> None:
    account = Account(mode="safe")
    openai_stub.set_default("这是一个很慢的回答。", delay=3.0, chunk_chars=3)  # ~12 s
    a, b = await asyncio.gather(
        bot_process(_config(account, wechat_api, redis_url)),
        bot_process(_config(account, wechat_api, redis_url)),
    )
    pa = WeChatPoster(a.base_url, account, encrypted=True)
    pb = WeChatPoster(b.base_url, account, encrypted=True)
    fields = text_message("两台机器上的慢问题")

    async def at(poster: WeChatPoster, offset: float):
        await asyncio.sleep(offset)
        return await poster.post(poster.delivery(fields))

    responses = await asyncio.gather(at(pa, 0), at(pb, 0), at(pb, 5), at(pa, 10))
    for took, resp in responses:
        assert resp.status_code == 200
        assert took < WINDOW + 0.5, took
    for _ in range(100):
        if wechat_api.sent:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    passive = [pa.open_reply(r) for _, r in responses]
    answers = [p["Content"] for p in passive if p] + [
        m["text"]["content"] for m in wechat_api.sent
    ]
    assert answers == ["这是一个很慢的回答。"]
    assert len(openai_stub.requests) == 1


async def test_fast_answer_across_two_processes_is_one_passive_reply(
    bot_process, openai_stub: OpenAIStub, wechat_api: FakeWeChatAPI, redis_url: str
) -> None:
    account = Account()
    openai_stub.set_default("快速回答。")
    a, b = await asyncio.gather(
        bot_process(_config(account, wechat_api, redis_url)),
        bot_process(_config(account, wechat_api, redis_url)),
    )
    pa, pb = WeChatPoster(a.base_url, account), WeChatPoster(b.base_url, account)
    fields = text_message("你好")
    responses = await asyncio.gather(
        pa.post(pa.delivery(fields)),
        pb.post(pb.delivery(fields)),
        pa.post(pa.delivery(fields)),
    )
    await asyncio.sleep(1.0)
    replies = [pa.open_reply(r) for _, r in responses]
    assert [r["Content"] for r in replies if r] == ["快速回答。"]
    assert wechat_api.sent == []
    assert len(openai_stub.requests) == 1
