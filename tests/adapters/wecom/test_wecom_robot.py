"""The group robot webhook (send-only) against the fake API."""

from __future__ import annotations

import pytest
from fake_server import FakeWeComAPI

from adapters.wecom import send_group_robot
from adapters.wecom.exception import WeComApiError


async def test_text_and_markdown(wecom_api: FakeWeComAPI) -> None:
    await send_group_robot("robot-key", text="每日提醒", base_url=wecom_api.base_url)
    await send_group_robot(
        "robot-key", markdown="**加粗**", base_url=wecom_api.base_url
    )
    assert [body for _, body in wecom_api.robot] == [
        {"msgtype": "text", "text": {"content": "每日提醒"}},
        {"msgtype": "markdown", "markdown": {"content": "**加粗**"}},
    ]


async def test_error_code_raises(wecom_api: FakeWeComAPI) -> None:
    with pytest.raises(WeComApiError) as info:
        await send_group_robot("wrong", text="x", base_url=wecom_api.base_url)
    assert info.value.errcode == 93000


async def test_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await send_group_robot("k", text="a", markdown="b")
