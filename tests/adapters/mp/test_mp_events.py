"""Golden payloads (``events.json``): each parses to its class, fields, dedup key
and chat context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.mp import event as event_module
from adapters.mp.delivery import context_factory
from adapters.mp.exception import CallbackRejected
from adapters.mp.handler import parse_body

GOLDEN = json.loads((Path(__file__).parent / "events.json").read_text("utf-8"))


class _Bot:
    self_id = "demo"


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
async def test_golden_payload(case: dict[str, Any]) -> None:
    fields, fmt = parse_body(case["body"].encode())
    assert fmt == case["format"]
    event = event_module.build_event("demo", fields)
    assert type(event).__name__ == case["class"]
    assert event.get_type() == case["type"]
    for name, value in case["fields"].items():
        assert getattr(event, name) == value, name
    assert event.msg_key == case["msg_key"]
    ctx = await context_factory(_Bot(), event)
    if case["context"] is None:
        assert ctx is None
    else:
        assert ctx is not None
        for name, value in case["context"].items():
            assert getattr(ctx, name) == value, name
        assert ctx.bot_id == "demo"


def _parse(body: bytes) -> event_module.Event:
    fields, _ = parse_body(body)
    return event_module.build_event("demo", fields)


@pytest.mark.parametrize(
    "body",
    [b"<xml></xml>", b"<xml/>", b"{}", b"[]", b"null", b"  ", b"<xml><A>1</A>"],
)
def test_empty_or_broken_bodies_are_400(body: bytes) -> None:
    with pytest.raises(CallbackRejected) as info:
        _parse(body)
    assert info.value.status == 400
