"""Request bodies of the OpenAI-compatible API, as pydantic models.

Unknown fields are rejected (`extra="forbid"`), so a client that asks for
something this server does not do (tools, logprobs, n > 1, penalties) gets a 400
that names the field instead of a silently different answer.

Extensions, both also accepted by vLLM / SGLang:

- `chat_template_kwargs`: passed to the chat template (`{"enable_thinking": false}`
  for Qwen3).
- `separate_reasoning` (default false): move a leading `<think>...</think>` out of
  `content` into `reasoning_content`. By default the text is passed through as the
  model wrote it, tags included, and the bot splits it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TextPart(_Strict):
    """A text part of a multi-part message content."""

    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    reasoning_content: str | None = None

    def text(self) -> str:
        """The content as one string."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


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
    n: Literal[1] | None = None
    user: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    separate_reasoning: bool = False

    @model_validator(mode="after")
    def _check_stop(self) -> ChatCompletionRequest:
        stops = self.stop_list()
        if len(stops) > 16 or any(len(s) > 256 for s in stops):
            raise ValueError("stop: at most 16 strings of at most 256 characters")
        return self

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
