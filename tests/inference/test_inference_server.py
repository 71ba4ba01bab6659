"""The HTTP API over real loopback connections: openai client, errors, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.inference.inference_helpers import LiveServer

PROMPTS = [
    f"用户{i}: tell me about {i} cats and {16 - i} dogs" * (1 + i % 3)
    for i in range(16)
]


async def eventually(check: Callable[[], bool], within: float) -> float:
    """Poll `check` until true or `within` seconds pass; return the time waited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(int(within / 0.005)):
        if check():
            break
        await asyncio.sleep(0.005)
    return loop.time() - start


def body(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def client(live: LiveServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{live.url}/v1", api_key="unused", max_retries=0
    )


async def stream_text(api: openai.AsyncOpenAI, prompt: str, **extra: Any) -> str:
    stream = await api.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        **extra,
    )
    parts = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


async def test_sixteen_concurrent_streams_each_get_their_own(live: LiveServer) -> None:
    api = client(live)
    settings: list[dict[str, Any]] = [
        {"max_tokens": 20 + i, "temperature": 0.0} for i in range(8)
    ] + [{"max_tokens": 24, "temperature": 1.0, "seed": i} for i in range(8, 16)]
    alone = [
        await stream_text(api, p, **s) for p, s in zip(PROMPTS, settings, strict=True)
    ]
    together = await asyncio.gather(
        *(stream_text(api, p, **s) for p, s in zip(PROMPTS, settings, strict=True))
    )
    await api.close()
    assert list(together) == alone
    assert len(set(alone)) >= 10


async def test_sse_format_usage_and_done(live: LiveServer) -> None:
    payload = body(
        "你好", stream=True, max_tokens=6, stream_options={"include_usage": True}
    )
    async with (
        httpx.AsyncClient(base_url=live.url) as http,
        http.stream("POST", "/v1/chat/completions", json=payload) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["completion_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + 6


async def test_non_streaming_completion(live: LiveServer) -> None:
    api = client(live)
    result = await api.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=5,
        temperature=0,
    )
    streamed = await stream_text(api, "hello", max_tokens=5, temperature=0)
    await api.close()
    assert result.choices[0].message.content == streamed
    assert result.usage is not None
    assert result.usage.completion_tokens == 5


async def test_unsupported_field_is_400_naming_it(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/v1/chat/completions", json=body("hi", logit_bias={"1": 5})
        )
        bad_value = await http.post(
            "/v1/chat/completions", json=body("hi", temperature=9)
        )
        too_many = await http.post("/v1/chat/completions", json=body("hi", n=17))
        schema = await http.post(
            "/v1/chat/completions",
            json=body("hi", response_format={"type": "json_schema"}),
        )
        choice = await http.post(
            "/v1/chat/completions", json=body("hi", tool_choice="required")
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "logit_bias"
    assert "logit_bias" in response.json()["error"]["message"]
    assert bad_value.status_code == 400
    assert bad_value.json()["error"]["param"] == "temperature"
    assert too_many.status_code == 400
    assert too_many.json()["error"]["param"] == "n"
    assert schema.status_code == 400
    assert schema.json()["error"]["param"] == "response_format.type"
    assert choice.status_code == 400
    assert choice.json()["error"]["param"] == "tool_choice"


async def test_lone_surrogate_is_400_not_500(live: LiveServer) -> None:
    raw = b'{"messages": [{"role": "user", "content": "hi \\ud800"}], "max_tokens": 2}'
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=live.url) as http:
        chat = await http.post("/v1/chat/completions", content=raw, headers=headers)
        count = await http.post(
            "/v1/tokenize", content=b'{"text": "\\udfff x"}', headers=headers
        )
    assert chat.status_code == 400
    assert "Unicode" in chat.json()["error"]["message"]
    assert count.status_code == 400


async def test_separate_reasoning_keeps_plain_content(live: LiveServer) -> None:
    """Output without a <think> block is all content, reasoning_content null."""
    async with httpx.AsyncClient(base_url=live.url) as http:
        plain = await http.post(
            "/v1/chat/completions", json=body("hi", max_tokens=6, temperature=0)
        )
        split = await http.post(
            "/v1/chat/completions",
            json=body("hi", max_tokens=6, temperature=0, separate_reasoning=True),
        )
        ready = await http.get("/ready")
    message = split.json()["choices"][0]["message"]
    assert message["content"] == plain.json()["choices"][0]["message"]["content"]
    assert message["reasoning_content"] is None
    assert ready.json()["ready"] is True


async def test_oversized_prompt_and_body(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        long_prompt = await http.post(
            "/v1/chat/completions", json=body("数据 " * 2000, max_tokens=4)
        )
        huge_body = await http.post(
            "/v1/chat/completions", json=body("x" * 100_000, max_tokens=4)
        )
    assert long_prompt.status_code == 400
    assert long_prompt.json()["error"]["code"] == "context_length_exceeded"
    assert huge_body.status_code == 413


async def test_tokenize_models_health_metrics(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        text = (await http.post("/v1/tokenize", json={"text": "你好 world"})).json()
        chat = (
            await http.post("/v1/tokenize", json={"messages": body("你好")["messages"]})
        ).json()
        neither = await http.post("/v1/tokenize", json={})
        models = (await http.get("/v1/models")).json()
        health = (await http.get("/health")).json()
        metrics = (await http.get("/metrics")).text
    assert 0 < text["count"] < chat["count"]
    assert neither.status_code == 400
    assert models["data"][0]["object"] == "model"
    assert health["status"] == "ok"
    for name in (
        "freechat_inference_queue_depth",
        "freechat_inference_running_requests",
        "freechat_inference_tokens_per_second",
        "freechat_inference_time_to_first_token_seconds_bucket",
    ):
        assert name in metrics


async def test_stop_strings_over_http(live: LiveServer) -> None:
    api = client(live)
    full = await stream_text(api, PROMPTS[5], max_tokens=30, temperature=0)
    stop = full[10:12]
    cut = await stream_text(api, PROMPTS[5], max_tokens=30, temperature=0, stop=[stop])
    await api.close()
    assert cut == full[: full.index(stop)]


@pytest.mark.parametrize("stream", [True, False])
async def test_disconnect_frees_the_row_within_a_second(
    live: LiveServer, stream: bool
) -> None:
    engine = live.app.state.service.engine
    payload = body("never ending", stream=stream, max_tokens=4000, temperature=0)
    async with httpx.AsyncClient(base_url=live.url) as http:
        task = asyncio.ensure_future(http.post("/v1/chat/completions", json=payload))
        await eventually(lambda: engine.running == 1, within=10.0)
        assert engine.running == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        waited = await eventually(lambda: engine.running == 0, within=5.0)
        assert engine.running == 0
        assert waited < 1.0
