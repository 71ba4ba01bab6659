"""``bot.outbound.filter_message``: the text of every message shape a plugin may
send is filtered, everything else is kept as it was."""

from __future__ import annotations

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.outbound import filter_message


async def upper(text: str) -> str:
    return text.upper()


async def test_every_message_shape_has_its_text_filtered() -> None:
    assert await filter_message("hi [CQ:face,id=1]", upper) == "HI [CQ:FACE,ID=1]"
    message = Message([MessageSegment.text("hi "), MessageSegment.face(1)])
    out = await filter_message(message, upper)
    assert isinstance(out, Message)
    assert [seg.type for seg in out] == ["text", "face"]
    assert out[0].data["text"] == "HI "
    assert message[0].data["text"] == "hi "  # the plugin's own object is untouched
    seg = await filter_message(MessageSegment.text("x"), upper)
    assert seg == MessageSegment.text("X")
    dicts = [
        {"type": "text", "data": {"text": "a\\udcff"}},
        {"type": "image", "data": {"file": "a.png"}},
        "stray",
    ]
    assert await filter_message(dicts, upper) == [
        {"type": "text", "data": {"text": "A\\UDCFF"}},
        {"type": "image", "data": {"file": "a.png"}},
        "stray",
    ]
    assert await filter_message({"type": "text", "data": {"text": "b"}}, upper) == {
        "type": "text",
        "data": {"text": "B"},
    }
    assert await filter_message(None, upper) is None
