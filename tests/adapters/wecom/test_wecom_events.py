"""Golden payloads (``events.json``): AI-bot callback bodies and self-built app XML
parse to their class, fields and chat context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.mp.handler import parse_body
from adapters.wecom.delivery import context_factory, truncate_utf8
from adapters.wecom.event import app_event, bot_event
from adapters.wecom.exception import CallbackRejected

GOLDEN = json.loads((Path(__file__).parent / "events.json").read_text("utf-8"))


class _Bot:
    self_id = "lc"


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
async def test_golden_payload(case: dict[str, Any]) -> None:
    if case["kind"] == "bot":
        event = bot_event("lc", case["source"], case["body"], case["req_id"])
    else:
        fields, _ = parse_body(case["xml"].encode())
        event = app_event("lc", fields)
    assert type(event).__name__ == case["class"]
    assert event.get_type() == case["type"]
    for name, value in case["fields"].items():
        assert getattr(event, name) == value, name
    ctx = await context_factory(_Bot(), event)
    if case["context"] is None:
        assert ctx is None
    else:
        assert ctx is not None
        for name, value in case["context"].items():
            assert getattr(ctx, name) == value, name


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"msgtype": "text"},
        {"msgtype": "text", "from": {"userid": "u"}},
        {"msgtype": "text", "from": "u", "msgid": "1"},
        {"msgtype": "event", "from": {"userid": "u"}},
        {"msgtype": ["text"], "from": {"userid": "u"}, "msgid": "1"},
        {"msgtype": "text", "from": {"userid": "u"}, "msgid": "1", "text": "x"},
    ],
)
def test_malformed_bot_bodies_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(CallbackRejected) as info:
        bot_event("lc", "long", body)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 10, "abc"),
        ("汉字汉字", 7, "汉字"),
        ("汉字汉字", 6, "汉字"),
        ("a汉", 2, "a"),
        ("😀x", 3, ""),
    ],
)
def test_truncate_utf8_cuts_at_characters(text: str, limit: int, expected: str) -> None:
    out = truncate_utf8(text, limit)
    assert out == expected
    assert len(out.encode()) <= limit
