"""A user's message as typed parts, and how those parts reach the model.

An adapter's context factory maps its platform's segments to these parts
(``ChatContext.parts``); ``ChatContext.text`` stays the message's own text (the
middleware reads and may rewrite it). The prompt is built from both: quotes first,
then the text, then placeholders for what the model cannot take, and the images as
OpenAI content parts (``image_url`` with a ``data:`` URI) when the model can see.

A message with no image stays a plain string, as it always was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: how an image is shown to a model that cannot see it (and in the history)
IMAGE_PLACEHOLDER = "[image]"


@dataclass(slots=True)
class TextPart:
    text: str


@dataclass(slots=True)
class ImagePart:
    """An image by reference; ``data_uri`` is filled once it was fetched and checked,
    ``error`` once fetching it was refused or failed (a :class:`MediaError` reason)."""

    url: str
    data_uri: str | None = None
    error: str | None = None


@dataclass(slots=True)
class FilePart:
    name: str


@dataclass(slots=True)
class VoicePart:
    """A voice message; ``transcript`` when the platform recognised it."""

    transcript: str = ""


@dataclass(slots=True)
class QuotePart:
    """A quoted (replied-to) message or a forwarded bundle, as text."""

    text: str
    sender: str = ""


@dataclass(slots=True)
class MentionPart:
    user_id: str
    name: str = ""


Part = TextPart | ImagePart | FilePart | VoicePart | QuotePart | MentionPart


def images(parts: Iterable[Part]) -> list[ImagePart]:
    return [p for p in parts if isinstance(p, ImagePart)]


def placeholder(part: Part) -> str:
    """The text a part becomes where it cannot be itself."""
    if isinstance(part, ImagePart):
        return IMAGE_PLACEHOLDER
    if isinstance(part, FilePart):
        return f"[file: {part.name}]" if part.name else "[file]"
    if isinstance(part, VoicePart):
        return f"[voice] {part.transcript}" if part.transcript else "[voice]"
    if isinstance(part, MentionPart):
        return f"@{part.name or part.user_id}"
    if isinstance(part, QuotePart):
        who = f"{part.sender}: " if part.sender else ""
        return f"[quote] {who}{part.text}"
    return part.text


def prompt_content(text: str, parts: Iterable[Part]) -> str | list[dict[str, Any]]:
    """The user message's ``content``: ``text`` with the parts around it.

    Quotes go in front (the question is about them), files and voice after the
    text, images as ``image_url`` parts when fetched, else as ``[image]``. Without
    an image to show the content is a plain string.
    """
    parts = list(parts)
    before = [placeholder(p) for p in parts if isinstance(p, QuotePart)]
    after = [
        placeholder(p)
        for p in parts
        if isinstance(p, FilePart | VoicePart)
        or (isinstance(p, ImagePart) and p.data_uri is None)
    ]
    body = "\n".join(s for s in (*before, text, " ".join(after)) if s)
    shown = [p.data_uri for p in parts if isinstance(p, ImagePart) and p.data_uri]
    if not shown:
        return body
    content: list[dict[str, Any]] = []
    if body:
        content.append({"type": "text", "text": body})
    content.extend({"type": "image_url", "image_url": {"url": uri}} for uri in shown)
    return content


def text_view(text: str, parts: Iterable[Part]) -> str:
    """The message as plain text, images by placeholder (for history and logs)."""
    content = prompt_content(text, [_unfetched(p) for p in parts])
    assert isinstance(content, str)
    return content


def _unfetched(part: Part) -> Part:
    return ImagePart(part.url) if isinstance(part, ImagePart) else part
