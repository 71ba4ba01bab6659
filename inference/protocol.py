"""Request bodies of the OpenAI-compatible API, as pydantic models.

Unknown fields are rejected (`extra="forbid"`), so a client that asks for
something this server does not do (`logit_bias`, `json_schema` formats, audio)
gets a 400 that names the field instead of a silently different answer.

Extensions, both also accepted by vLLM / SGLang:

- `chat_template_kwargs`: passed to the chat template (`{"enable_thinking": false}`
  for Qwen3).
- `separate_reasoning` (default false): move a leading `<think>...</think>` out of
  `content` into `reasoning_content`. By default the text is passed through as the
  model wrote it, tags included, and the bot splits it.
- vLLM's sampling extensions: `top_k`, `min_p`, `repetition_penalty`, `ignore_eos`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TextPart(_Strict):
    """A text part of a multi-part message content."""

    type: Literal["text"]
    text: str


class FunctionCall(_Strict):
    """The function a tool call names, with its arguments as JSON text."""

    name: str = Field(max_length=256)
    arguments: str = Field(max_length=65536)


class ToolCall(_Strict):
    """A tool call of an earlier assistant message."""

    id: str = Field(max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Strict):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        """The content as one string."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class FunctionDef(_Strict):
    """A function the model may call."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Strict):
    """An entry of `tools`."""

    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Strict):
    """The function `tool_choice` names."""

    name: str


class NamedToolChoice(_Strict):
    """`tool_choice: {"type": "function", "function": {"name": ...}}`."""

    type: Literal["function"]
    function: NamedFunction


class ResponseFormat(_Strict):
    """`response_format`: plain text, or a JSON object (validated at the end)."""

    type: Literal["text", "json_object"]


class StreamOptions(_Strict):
    """`stream_options` of a streaming request."""

    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    """POST /v1/chat/completions."""

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=16)
    user: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    separate_reasoning: bool = False
    top_k: int | None = Field(default=None, ge=-1, le=100_000)  # 0 or -1: off
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    repetition_penalty: float | None = Field(default=None, gt=0.0, le=10.0)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    ignore_eos: bool = False
    tools: list[Tool] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None

    @model_validator(mode="after")
    def _check_stop(self) -> ChatCompletionRequest:
        stops = self.stop_list()
        if len(stops) > 16 or any(len(s) > 256 for s in stops):
            raise ValueError("stop: at most 16 strings of at most 256 characters")
        return self

    @model_validator(mode="after")
    def _check_tools(self) -> ChatCompletionRequest:
        choice = self.tool_choice
        if choice not in (None, "none", "auto") and not self.tools:
            raise ValueError("tool_choice: needs tools")
        if isinstance(choice, NamedToolChoice) and choice.function.name not in {
            t.function.name for t in self.tools or []
        }:
            raise ValueError("tool_choice: names a function that is not in tools")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs: needs logprobs true")
        return self

    def uses_tools(self) -> bool:
        """Whether tools are offered (and tool calls parsed)."""
        return bool(self.tools) and self.tool_choice != "none"

    def forced_tool_prefix(self) -> str:
        """Text the answer must start with for `required` or a named tool_choice."""
        if not self.uses_tools():
            return ""
        if isinstance(self.tool_choice, NamedToolChoice):
            name = json.dumps(self.tool_choice.function.name)
            # Ends where Qwen2's pre-tokenizer splits anyway (before " {"), so the
            # forced tokens are the ones the model would have written itself.
            return f'<tool_call>\n{{"name": {name}, "arguments":'
        if self.tool_choice == "required":
            return '<tool_call>\n{"name":'
        return ""

    def stop_list(self) -> tuple[str, ...]:
        """The stop strings as a tuple."""
        if self.stop is None:
            return ()
        if isinstance(self.stop, str):
            return (self.stop,)
        return tuple(self.stop)

    def requested_max_tokens(self) -> int | None:
        """`max_completion_tokens`, else `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens


class TokenizeRequest(_Strict):
    """POST /v1/tokenize: count tokens of chat messages or of plain text."""

    model: str | None = None
    messages: list[ChatMessage] | None = None
    text: str | None = None
    add_generation_prompt: bool = True
    chat_template_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.messages is None) == (self.text is None):
            raise ValueError("give exactly one of messages or text")
        return self
