"""Chat completions: from a validated request to engine requests and back.

`start` turns a `ChatCompletionRequest` into `n` engine requests (the same prompt,
seeds `seed + i`); `stream_chunks` and `collect` turn their events into the
OpenAI response, streamed or whole. Per choice the text passes through, in this
order: the reasoning splitter (with `separate_reasoning`), the tool-call parser
(when `tools` are offered) and, at the end, the JSON check of `response_format`.

A named or `required` `tool_choice` is enforced by starting the answer with the
opening of a call (`<tool_call>\\n{"name": ...`): those tokens are appended to
the prompt and fed to the parser first, so the model can only continue the call.

Tool calls are streamed as OpenAI does: a first delta with the call's `index`,
`id`, `type` and `name` (empty `arguments`), then one with the arguments; the
final chunk's `finish_reason` is `tool_calls` when the choice made any.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from .engine import Request as EngineRequest
from .engine import StreamEvent
from .exceptions import InferenceError, OutputFormatError
from .protocol import ChatCompletionRequest
from .reasoning import ReasoningSplitter
from .sampling import SamplingParams, TokenLogprob
from .service import InferenceService
from .sse import dumps, error_body
from .toolcalls import ParsedCall, ToolCallParser


def sampling_params(
    body: ChatCompletionRequest, service: InferenceService
) -> SamplingParams:
    """The engine settings a request asks for (the model's defaults filled in)."""
    config = service.config
    loaded = service.loaded
    temperature = loaded.default_temperature if loaded else 1.0
    top_p = loaded.default_top_p if loaded else 1.0
    asked = body.requested_max_tokens()
    max_tokens = min(asked or config.default_max_tokens, config.max_tokens_limit)
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=temperature if body.temperature is None else body.temperature,
        top_p=top_p if body.top_p is None else body.top_p,
        stop=body.stop_list(),
        seed=body.seed,
        top_k=max(0, body.top_k or 0),
        min_p=body.min_p or 0.0,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        repetition_penalty=body.repetition_penalty or 1.0,
        logprobs=(body.top_logprobs or 0) if body.logprobs else None,
        ignore_eos=body.ignore_eos,
    )


@dataclass
class Choice:
    """One choice's request and the state of its text pipeline."""

    index: int
    request: EngineRequest
    body: ChatCompletionRequest
    reasoning: ReasoningSplitter | None = None
    tools: ToolCallParser | None = None
    content: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    completion: int = 0
    finish: str = "stop"

    def __post_init__(self) -> None:
        if self.body.separate_reasoning:
            self.reasoning = ReasoningSplitter()
        if self.body.uses_tools():
            self.tools = ToolCallParser()

    def feed(self, text: str, final: bool) -> list[dict[str, Any]]:
        """The deltas that `text` (and, when `final`, the end) produce."""
        parts: list[tuple[str, str]] = []
        if self.reasoning is None:
            parts.append(("", text))
        else:
            parts.append(self.reasoning.feed(text))
            if final:
                parts.append(self.reasoning.flush())
        deltas: list[dict[str, Any]] = []
        for reasoning, content in parts:
            if reasoning:
                deltas.append({"reasoning_content": reasoning})
            if self.tools is None:
                pieces: list[str | ParsedCall] = [content] if content else []
            else:
                pieces = self.tools.feed(content)
            deltas += self._pieces(pieces)
        if final and self.tools is not None:
            deltas += self._pieces(self.tools.flush())
        return deltas

    def _pieces(self, pieces: list[str | ParsedCall]) -> list[dict[str, Any]]:
        deltas: list[dict[str, Any]] = []
        for piece in pieces:
            if isinstance(piece, str):
                self.content.append(piece)
                deltas.append({"content": piece})
                continue
            call = {
                "index": len(self.calls),
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": piece.name, "arguments": piece.arguments},
            }
            self.calls.append(call)
            head = {**call, "function": {"name": piece.name, "arguments": ""}}
            tail = {"index": call["index"], "function": {"arguments": piece.arguments}}
            deltas += [{"tool_calls": [head]}, {"tool_calls": [tail]}]
        return deltas

    def end(self, event: StreamEvent) -> None:
        """Record the final event; check the output format."""
        self.completion = event.completion_tokens
        self.finish = event.finish_reason or "stop"
        if self.finish == "error":
            raise InferenceError(event.error or "generation failed")
        if self.calls and self.finish == "stop":
            self.finish = "tool_calls"
        fmt = self.body.response_format
        if fmt is not None and fmt.type == "json_object" and not self.calls:
            try:
                json.loads("".join(self.content))
            except ValueError:
                raise OutputFormatError(
                    f"choice {self.index}: the output is not a JSON object"
                    f" (response_format json_object, finish_reason {self.finish})"
                ) from None


def start(service: InferenceService, body: ChatCompletionRequest) -> list[Choice]:
    """Submit the `n` engine requests of `body`."""
    engine = service.require_engine()
    ids = service.encode_chat(body.messages, body.chat_template_kwargs, body.tools)
    forced = body.forced_tool_prefix()
    if forced:
        ids = ids + service.encode_text(forced)
    params = sampling_params(body, service)
    choices: list[Choice] = []
    try:
        for i in range(body.n or 1):
            seed = None if params.seed is None else params.seed + i
            request = engine.submit(
                ids, SamplingParams(**{**vars(params), "seed": seed})
            )
            choice = Choice(i, request, body)
            if forced and choice.tools is not None:
                choice.tools.feed(forced)
            choices.append(choice)
    except InferenceError:
        for choice in choices:
            choice.request.cancel()
        raise
    return choices


def cancel_all(choices: list[Choice]) -> None:
    """Cancel every choice's request."""
    for choice in choices:
        choice.request.cancel()


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: one printable char per byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


_BYTES = _byte_decoder()


def token_bytes(tokenizer: Any, token: int) -> bytes:
    """The raw bytes of one token (a Chinese character may span two tokens)."""
    piece = tokenizer.convert_ids_to_tokens(token)
    if isinstance(piece, str) and piece and all(c in _BYTES for c in piece):
        return bytes(_BYTES[c] for c in piece)
    return str(tokenizer.decode([token])).encode()


def _logprob_entry(
    service: InferenceService, token: int, logprob: float
) -> dict[str, Any]:
    assert service.loaded is not None
    raw = token_bytes(service.loaded.tokenizer, token)
    text = raw.decode("utf-8", "replace")
    return {"token": text, "logprob": logprob, "bytes": list(raw)}


def logprobs_json(
    service: InferenceService, items: tuple[TokenLogprob, ...] | list[TokenLogprob]
) -> dict[str, Any]:
    """OpenAI's `logprobs` object of a choice (or of one chunk)."""
    return {
        "content": [
            {
                **_logprob_entry(service, item.token, item.logprob),
                "top_logprobs": [_logprob_entry(service, t, p) for t, p in item.top],
            }
            for item in items
        ]
    }


async def _merged(choices: list[Choice]) -> AsyncIterator[tuple[Choice, StreamEvent]]:
    """Events of every choice as they come (one choice: no extra task)."""
    if len(choices) == 1:
        async for event in choices[0].request.stream():
            yield choices[0], event
        return
    queue: asyncio.Queue[tuple[Choice, StreamEvent]] = asyncio.Queue()

    async def pump(choice: Choice) -> None:
        async for event in choice.request.stream():
            queue.put_nowait((choice, event))

    tasks = [asyncio.ensure_future(pump(c)) for c in choices]
    try:
        left = len(choices)
        while left:
            choice, event = await queue.get()
            left -= event.finish_reason is not None
            yield choice, event
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


def usage(choices: list[Choice]) -> dict[str, int]:
    """The usage object: the prompt once, every choice's completion."""
    prompt = choices[0].request.prompt_tokens
    completion = sum(c.completion for c in choices)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def stream_chunks(
    service: InferenceService, body: ChatCompletionRequest, choices: list[Choice]
) -> AsyncIterator[bytes]:
    """The server-sent events of a streamed completion."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": service.model_name,
    }

    def chunk(index: int, delta: dict[str, Any], **extra: Any) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": None, **extra}
        return b"data: " + dumps({**head, "choices": [choice]}) + b"\n\n"

    # Content deltas are most of the traffic: only their text is encoded per chunk.
    before, after = chunk(0, {"content": ""}).split(b'""', 1)
    for choice in choices:
        yield chunk(choice.index, {"role": "assistant", "content": ""})
    async for choice, event in _merged(choices):
        final = event.finish_reason is not None
        deltas = choice.feed(event.text, final)
        logprobs = (
            {"logprobs": logprobs_json(service, event.logprobs)}
            if event.logprobs
            else {}
        )
        if logprobs and not deltas:
            deltas = [{}]
        for delta in deltas:
            if choice.index == 0 and not logprobs and list(delta) == ["content"]:
                yield before + dumps(delta["content"]) + after
            else:
                yield chunk(choice.index, delta, **logprobs)
            logprobs = {}
        if final:
            try:
                choice.end(event)
            except InferenceError as exc:
                kind = (
                    "invalid_response_format"
                    if isinstance(exc, OutputFormatError)
                    else "server_error"
                )
                yield b"data: " + dumps(error_body(str(exc), kind)) + b"\n\n"
                return
            yield chunk(choice.index, {}, finish_reason=choice.finish)
    if body.stream_options is not None and body.stream_options.include_usage:
        yield (
            b"data: "
            + dumps({**head, "choices": [], "usage": usage(choices)})
            + b"\n\n"
        )
    yield b"data: [DONE]\n\n"


async def collect(
    service: InferenceService, body: ChatCompletionRequest, choices: list[Choice]
) -> dict[str, Any]:
    """The whole completion as one response body."""
    reasoning: dict[int, list[str]] = {c.index: [] for c in choices}
    logprobs: dict[int, list[TokenLogprob]] = {c.index: [] for c in choices}
    async for choice, event in _merged(choices):
        logprobs[choice.index] += event.logprobs
        final = event.finish_reason is not None
        for delta in choice.feed(event.text, final):
            reasoning[choice.index].append(delta.get("reasoning_content", ""))
        if final:
            choice.end(event)
    out = []
    for choice in choices:
        content = "".join(choice.content)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if choice.calls:
            message["tool_calls"] = choice.calls
            message["content"] = content if content.strip() else None
        if body.separate_reasoning:
            message["reasoning_content"] = "".join(reasoning[choice.index]) or None
        entry: dict[str, Any] = {
            "index": choice.index,
            "message": message,
            "finish_reason": choice.finish,
        }
        if body.logprobs:
            entry["logprobs"] = logprobs_json(service, logprobs[choice.index])
        out.append(entry)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": service.model_name,
        "choices": out,
        "usage": usage(choices),
    }
