"""Golden NapCat events with media (``events_media.json``) become the expected
typed parts, through the adapter and a NapCat-like client that answers ``get_msg``
and ``get_forward_msg``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from adapters.qq import Adapter
from bot.content import Part
from tests.adapters.qq.adapter_harness import Answerer
from tests.adapters.qq.napcat import NapCat

GOLDEN = json.loads((Path(__file__).parent / "events_media.json").read_text("utf-8"))
TOKEN = "media-token"


def as_dict(part: Part) -> dict[str, Any]:
    return {"type": type(part).__name__, **dataclasses.asdict(part)}


def expected(case: dict[str, Any]) -> list[dict[str, Any]]:
    # fields the golden file leaves out are the defaults (nothing fetched yet)
    defaults = {"ImagePart": {"data_uri": None, "error": None}}
    return [{**defaults.get(p["type"], {}), **p} for p in case["parts"]]


async def test_golden_media_events_map_to_parts(serve: Any, answerer: Answerer) -> None:
    served = await serve(Adapter, {"qq_access_token": TOKEN, "qq_min_interval": 0})
    peer = await NapCat(f"{served.ws_base}/onebot/v11/ws", 10001, TOKEN).connect()
    try:
        ids: dict[str, str] = {}
        for n, case in enumerate(GOLDEN, start=1):
            for mid, segments in case.get("stored", {}).items():
                peer.stored_message(int(mid), segments)
            peer.forwards.update(case.get("forwards", {}))
            event = peer.group_segments(case["segments"], message_id=900_000 + n)
            ids[case["name"]] = str(event["message_id"])
            await peer.send_event(event)
            await peer.wait_sends(n)
    finally:
        await peer.close()
    seen = {ctx.message_id: ctx for ctx in answerer.contexts}
    for case in GOLDEN:
        ctx = seen[ids[case["name"]]]
        assert ctx.text == case["text"], case["name"]
        assert [as_dict(p) for p in ctx.parts] == expected(case), case["name"]
    # the forward bundle was looked up with the id the segment named
    looked = [c["params"] for c in peer.calls if c["action"] == "get_forward_msg"]
    assert {"id": "fw1"} in looked
