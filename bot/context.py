"""The platform-neutral chat context that travels through the middleware chain.

An adapter's context factory builds a :class:`ChatContext` from a platform event; the
middleware chain reads and changes it; the delivery strategy consumes ``ctx.reply``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.content import Part, prompt_content, text_view
from bot.text import clean_text

Role = Literal["system", "user", "assistant"]


@dataclass(slots=True)
class PromptMessage:
    """One message of the prompt sent to the model."""

    role: Role
    #: a plain string, or OpenAI content parts (text and ``image_url``)
    content: str | list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content}


@dataclass(slots=True)
class Usage:
    """Token usage of one answer, filled when the model reports it."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ReplyChunk:
    """One piece of a streamed answer: visible text or reasoning ("thinking") text."""

    text: str = ""
    reasoning: str = ""


async def _empty() -> AsyncIterator[ReplyChunk]:
    return
    yield  # pragma: no cover - makes this an async generator


class closing:  # lower case: used like contextlib.aclosing
    """Iterate a stream and close it on the way out, however the loop ends.

    A consumer (or a wrapping generator) that stops early must close the stream it
    reads: an abandoned async generator keeps the upstream model request open until
    it is garbage-collected. ``async with closing(inner) as s: async for c in s``.
    (A plain class: this sits on the per-chunk path of every wrapper.)
    """

    __slots__ = ("stream",)

    def __init__(self, stream: AsyncIterator[ReplyChunk]) -> None:
        self.stream = stream

    async def __aenter__(self) -> AsyncIterator[ReplyChunk]:
        return self.stream

    async def __aexit__(self, *exc: object) -> None:
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def text_stream(text: str) -> AsyncIterator[ReplyChunk]:
    """A reply stream that yields one fixed text."""
    if text:
        yield ReplyChunk(text=text)


@dataclass(eq=False)
class ChatContext:
    """Everything the chain needs to answer one incoming message.

    ``session_id`` keys conversation history; ``user_id``/``group_id`` key budgets and
    rate limits. Ids are strings qualified by ``platform`` so they never collide across
    platforms.
    """

    platform: str
    user_id: str
    text: str
    session_id: str = ""
    group_id: str | None = None
    bot_id: str = ""
    message_id: str = ""
    is_admin: bool = False
    #: the message as typed parts (images, quotes, files...) when the platform
    #: gave more than text; ``text`` stays the message's own text
    parts: list[Part] = field(default_factory=list)
    #: earlier turns of this session, oldest first (filled by the history plugin,
    #: trimmed by the budget plugin); the prompt is system + history + ``text``
    history: list[PromptMessage] = field(default_factory=list)
    system_prompt: str | None = None
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    #: the streamed answer; middleware wraps it after ``call_next`` returns
    reply: AsyncIterator[ReplyChunk] = field(default_factory=_empty)
    #: why the chain stopped without the model, if it did ("keyword", "blocked", ...)
    stopped_by: str | None = None
    usage: Usage = field(default_factory=Usage)
    #: set when the user stops generation or disconnects
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    #: free-form data middleware share (e.g. the conversation id)
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.monotonic)
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def __post_init__(self) -> None:
        # what an adapter passes in is made valid here, whatever the platform
        self.text = clean_text(self.text)
        self.user_id = clean_text(self.user_id)
        self.session_id = clean_text(self.session_id)
        if self.group_id is not None:
            self.group_id = clean_text(self.group_id)
        if not self.session_id:
            scope = self.group_id if self.group_id else f"user:{self.user_id}"
            self.session_id = f"{self.platform}:{scope}"

    @property
    def user_key(self) -> str:
        """Globally unique user key (platform-qualified)."""
        return f"{self.platform}:{self.user_id}"

    @property
    def group_key(self) -> str | None:
        return f"{self.platform}:{self.group_id}" if self.group_id else None

    def respond(self, text: str, *, reason: str) -> None:
        """Answer with a fixed text and mark the chain as stopped (no model call)."""
        self.reply = text_stream(text)
        self.stopped_by = reason

    def text_with_parts(self) -> str:
        """The message as plain text: quotes, placeholders, images as "[image]"
        (what the history keeps: images by reference, never their bytes)."""
        return text_view(self.text, self.parts) if self.parts else self.text

    def prompt(self) -> list[dict[str, Any]]:
        """The prompt as OpenAI-style message dicts: system, history, the message
        (a plain string, or content parts when it carries an image)."""
        msgs: list[dict[str, Any]] = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs.extend(m.as_dict() for m in self.history)
        content = prompt_content(self.text, self.parts) if self.parts else self.text
        msgs.append({"role": "user", "content": content})
        return msgs
