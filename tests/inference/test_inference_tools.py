"""Tool calls, JSON output, ignore_eos and n over HTTP, with the scripted echo model.

The echo model's greedy answer is the last user message, so each test writes the
model's output in its prompt: a Qwen3 `<tool_call>` block, a JSON object, or
text that is not JSON.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai

from tests.inference.inference_helpers import LiveServer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "巴黎"}}\n</tool_call>'
)


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
        **extra,
    }


async def sse(
    live: LiveServer, payload: dict[str, Any], *, done: bool = True
) -> list[dict[str, Any]]:
    async with (
        httpx.AsyncClient(base_url=live.url, timeout=60) as http,
        http.stream(
            "POST", "/v1/chat/completions", json={**payload, "stream": True}
        ) as response,
    ):
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines() if line]
    assert (lines[-1] == "data: [DONE]") is done
    events = lines[:-1] if done else lines
    return [json.loads(line.removeprefix("data: ")) for line in events]


async def post(live: LiveServer, payload: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        return await http.post("/v1/chat/completions", json=payload)


async def test_echo_model_answers_the_message(echo_live: LiveServer) -> None:
    answer = (await post(echo_live, ask("你好, plain text"))).json()
    assert answer["choices"][0]["message"]["content"] == "你好, plain text"
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_tool_call_non_stream(echo_live: LiveServer) -> None:
    response = await post(echo_live, ask("Sure. " + CALL, tools=[WEATHER]))
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "巴黎"}
    assert choice["message"]["content"] == "Sure. "


async def test_tool_calls_streamed_as_deltas(echo_live: LiveServer) -> None:
    two = CALL + "\n" + CALL.replace("巴黎", "Rome")
    chunks = await sse(echo_live, ask(two, tools=[WEATHER]))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [c["index"] for c in calls] == [0, 0, 1, 1]
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert calls[0]["id"] != calls[2]["id"]
    assert json.loads(calls[1]["function"]["arguments"]) == {"city": "巴黎"}
    assert json.loads(calls[3]["function"]["arguments"]) == {"city": "Rome"}
    assert not any(d.get("content") for d in deltas)  # no tags leak as text
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_openai_client_accumulates_streamed_call(echo_live: LiveServer) -> None:
    api = openai.AsyncOpenAI(base_url=f"{echo_live.url}/v1", api_key="x")
    stream = await api.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": CALL}],
        tools=[WEATHER],  # type: ignore[list-item]
        stream=True,
    )
    name, arguments = "", ""
    async for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            name += (call.function and call.function.name) or ""
            arguments += (call.function and call.function.arguments) or ""
    await api.close()
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "巴黎"}


async def test_without_tools_the_block_is_text(echo_live: LiveServer) -> None:
    answer = (await post(echo_live, ask(CALL))).json()["choices"][0]
    assert answer["message"]["content"] == CALL
    assert "tool_calls" not in answer["message"]
    broken = CALL.replace("}}", "}")  # not JSON: passed through as content
    answer = (await post(echo_live, ask(broken, tools=[WEATHER]))).json()["choices"][0]
    assert answer["message"]["content"] == broken
    assert answer["finish_reason"] == "stop"


async def test_named_tool_choice_forces_the_call(echo_live: LiveServer) -> None:
    # The forced opening is part of the prompt; the model continues the call.
    choice = {"type": "function", "function": {"name": "get_weather"}}
    response = await post(echo_live, ask(CALL, tools=[WEATHER], tool_choice=choice))
    (call,) = response.json()["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "巴黎"}
    # A model that would answer in prose is still made to start the call.
    prose = await post(
        echo_live,
        ask("no call", tools=[WEATHER], tool_choice=choice, max_tokens=5),
    )
    message = prose.json()["choices"][0]["message"]
    assert message["content"].startswith('<tool_call>\n{"name": "get_weather"')


async def test_json_object_checked(echo_live: LiveServer) -> None:
    good = await post(
        echo_live, ask('{"ok": true}', response_format={"type": "json_object"})
    )
    assert json.loads(good.json()["choices"][0]["message"]["content"]) == {"ok": True}
    bad = await post(
        echo_live, ask("not json", response_format={"type": "json_object"})
    )
    assert bad.status_code == 500
    assert bad.json()["error"]["type"] == "invalid_response_format"
    chunks = await sse(
        echo_live, ask("not json", response_format={"type": "json_object"}), done=False
    )
    assert chunks[-1]["error"]["type"] == "invalid_response_format"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert content == "not json"  # the text itself was streamed before the error


async def test_ignore_eos_runs_to_max_tokens(echo_live: LiveServer) -> None:
    plain = (await post(echo_live, ask("abc", max_tokens=12))).json()
    assert plain["usage"]["completion_tokens"] < 12
    assert plain["choices"][0]["finish_reason"] == "stop"
    forced = (await post(echo_live, ask("abc", max_tokens=12, ignore_eos=True))).json()
    assert forced["usage"]["completion_tokens"] == 12
    assert forced["choices"][0]["finish_reason"] == "length"
    assert forced["choices"][0]["message"]["content"] == "abc"


async def test_n_choices_stream_and_whole(echo_live: LiveServer) -> None:
    whole = (await post(echo_live, ask("多个 answers", n=3))).json()
    assert [c["index"] for c in whole["choices"]] == [0, 1, 2]
    assert {c["message"]["content"] for c in whole["choices"]} == {"多个 answers"}
    single = (await post(echo_live, ask("多个 answers"))).json()
    assert whole["usage"]["prompt_tokens"] == single["usage"]["prompt_tokens"]
    assert (
        whole["usage"]["completion_tokens"] == 3 * single["usage"]["completion_tokens"]
    )
    chunks = await sse(echo_live, ask("多个 answers", n=3))
    texts = {0: "", 1: "", 2: ""}
    finished = set()
    for chunk in chunks:
        (choice,) = chunk["choices"]
        texts[choice["index"]] += choice["delta"].get("content") or ""
        if choice["finish_reason"]:
            finished.add(choice["index"])
    assert texts == {0: "多个 answers", 1: "多个 answers", 2: "多个 answers"}
    assert finished == {0, 1, 2}


async def test_tool_history_messages_accepted(echo_live: LiveServer) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "thanks"},
    ]
    response = await post(
        echo_live, {"messages": messages, "tools": [WEATHER], "temperature": 0}
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "thanks"


async def test_logprobs_over_http(echo_live: LiveServer) -> None:
    payload = ask("logprobs 好", logprobs=True, top_logprobs=2)
    whole = (await post(echo_live, payload)).json()
    choice = whole["choices"][0]
    entries = choice["logprobs"]["content"]
    assert len(entries) == whole["usage"]["completion_tokens"]
    assert entries[-1]["token"] == "<|im_end|>"  # the stop token is counted too
    entries = entries[:-1]
    assert all(len(e["top_logprobs"]) == 2 for e in entries)
    assert all(e["top_logprobs"][0]["token"] == e["token"] for e in entries)
    assert all(-0.01 < e["logprob"] <= 0 for e in entries)
    assert bytes(b for e in entries for b in e["bytes"]).decode() == "logprobs 好"
    chunks = await sse(echo_live, payload)
    streamed = [
        e
        for c in chunks
        for e in (c["choices"][0].get("logprobs") or {}).get("content", [])
    ]
    assert [e["token"] for e in streamed[:-1]] == [e["token"] for e in entries]
    plain = (await post(echo_live, ask("x"))).json()
    assert "logprobs" not in plain["choices"][0]
