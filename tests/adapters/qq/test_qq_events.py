"""Golden NapCat payloads parse to the stock event classes (``events.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.qq import Adapter

GOLDEN = json.loads((Path(__file__).parent / "events.json").read_text("utf-8"))


@pytest.fixture(scope="module")
async def adapter() -> Any:
    from tests.adapters.qq.adapter_harness import serve_adapter

    served = await serve_adapter(Adapter, {})
    yield served.adapter
    await served.stop()


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: c["class"] or "unknown")
async def test_golden_event(adapter: Any, case: dict[str, Any]) -> None:
    event = adapter.to_event(case["payload"])
    if case["class"] is None:
        assert event is None  # kinds the stock models do not know are dropped
    else:
        assert type(event).__name__ == case["class"]
        assert str(event.self_id) == "10001"


def test_private_text_keeps_cq_lookalikes_as_text() -> None:
    case = next(c for c in GOLDEN if c["class"] == "PrivateMessageEvent")
    from nonebot.adapters.onebot.v11 import PrivateMessageEvent

    event = PrivateMessageEvent.model_validate(case["payload"])
    assert [s.type for s in event.message] == ["text"]
    assert event.get_plaintext() == "hello [CQ:at,qq=all]"
