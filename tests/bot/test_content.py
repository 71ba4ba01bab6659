"""Typed message parts become the model's content: a plain string without images,
OpenAI content parts with them, never a silent drop."""

from __future__ import annotations

from bot.content import (
    FilePart,
    ImagePart,
    MentionPart,
    QuotePart,
    VoicePart,
    prompt_content,
    text_view,
)
from bot.context import ChatContext

URI = "data:image/png;base64,iVBORw0KGgo="


def test_text_only_message_stays_a_plain_string() -> None:
    ctx = ChatContext(platform="qq", user_id="1", text="hello")
    assert ctx.prompt()[-1] == {"role": "user", "content": "hello"}
    ctx.parts = [MentionPart("2", "Bob")]
    assert ctx.prompt()[-1] == {"role": "user", "content": "hello"}


def test_quote_goes_in_front_and_placeholders_after() -> None:
    parts = [
        QuotePart("the sky is green", sender="Ann"),
        FilePart("report.pdf"),
        VoicePart(),
        ImagePart("https://x.qpic.cn/1", error="refused"),
    ]
    assert prompt_content("is this true?", parts) == (
        "[quote] Ann: the sky is green\nis this true?\n"
        "[file: report.pdf] [voice] [image]"
    )


def test_fetched_image_becomes_an_image_url_part() -> None:
    ctx = ChatContext(platform="qq", user_id="1", text="what is this")
    ctx.parts = [ImagePart("https://x.qpic.cn/1", data_uri=URI)]
    assert ctx.prompt()[-1]["content"] == [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": URI}},
    ]
    # an image alone: no empty text part
    assert prompt_content("", ctx.parts) == [
        {"type": "image_url", "image_url": {"url": URI}}
    ]


def test_text_view_keeps_images_by_reference_not_bytes() -> None:
    parts = [ImagePart("https://x.qpic.cn/1", data_uri=URI)]
    view = text_view("look", parts)
    assert view == "look\n[image]"
    assert "base64" not in view
