"""WeChat groups follow the group's wake mode (``bot.groups``): with ``all`` a
message without a mention is answered, a group switched off is not, on a mention
either; other groups keep the default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.wechat import Adapter
from bot import groups
from bot.state import MemoryState
from tests.adapters.wechat.bridge import text_of
from tests.adapters.wechat.test_wechat_adapter import bridge, cfg
from tests.bot.test_groups import apply_to

GROUP = "wechat:12345678@chatroom"


@pytest.fixture
async def state(tmp_path: Path) -> AsyncIterator[MemoryState]:
    from bot.store import close_store, init_store

    await init_store(f"sqlite://{tmp_path}/fc.db")
    state = MemoryState()
    await groups.start(state)
    yield state
    await groups.stop()
    await close_store()


async def apply(state: MemoryState, **values: Any) -> None:
    await apply_to(state, GROUP, **values)


async def test_wake_all_and_off(serve: Any, answerer: Any, state: MemoryState) -> None:
    await apply(state, wake="all")
    served = await serve(Adapter, cfg())
    peer = await bridge(served)
    try:
        await peer.send(peer.group_message("no mention", mention=False))
        await peer.wait_sends(1)
        assert text_of(peer.sends()[-1]) == "echo: no mention"
        await apply(state, enabled=False)
        await peer.send(peer.group_message("mentioned but off"))
        await peer.send(peer.private_message("direct marker"))
        await peer.wait_sends(2)
        assert [text_of(c) for c in peer.sends()] == [
            "echo: no mention",
            "echo: direct marker",
        ]
        assert [c.text for c in answerer.contexts] == ["no mention", "direct marker"]
    finally:
        await peer.close()
