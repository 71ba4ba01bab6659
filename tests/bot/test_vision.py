"""Which models see images (``llm.vision``) and what the user is told otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.content import ImagePart
from bot.context import ChatContext
from bot.llm import LLMClient
from bot.registry import StaticRegistry
from bot.settings import Settings
from bot.vision import NOTICES, prepare, sees


@pytest.fixture
async def llm() -> AsyncIterator[LLMClient]:
    client = LLMClient(StaticRegistry([]), Settings().llm)
    yield client
    await client.close()


def image_message(session: str) -> ChatContext:
    ctx = ChatContext(platform="qq", user_id="1", group_id=session, text="look")
    ctx.parts = [ImagePart("https://gchat.qpic.cn/x.jpg")]
    return ctx


async def test_a_blind_model_gets_a_placeholder_and_the_chat_one_notice(
    llm: LLMClient,
) -> None:
    settings = Settings.model_validate({"llm": {"vision": "off"}})
    first, second = image_message("g-blind"), image_message("g-blind")
    assert await prepare(first, settings, llm) == [NOTICES["blind"]]
    assert await prepare(second, settings, llm) == []  # told once per chat
    assert await prepare(image_message("g-other"), settings, llm) == [NOTICES["blind"]]
    # nothing fetched: the prompt reads the placeholder
    assert first.prompt()[-1]["content"] == "look\n[image]"


async def test_auto_goes_by_the_model_name(llm: LLMClient) -> None:
    def with_model(name: str) -> Settings:
        return Settings.model_validate({"llm": {"vision": "auto", "model": name}})

    assert await sees(with_model("Qwen2.5-VL-7B-Instruct"), llm, None)
    assert await sees(with_model("gpt-4o-mini"), llm, None)
    assert not await sees(with_model("Qwen3-0.6B"), llm, None)
    # a per-message model wins over the configured one
    assert await sees(with_model("Qwen3-0.6B"), llm, "llava-1.6")
    # no model named and no endpoint to ask: treated as blind, not an error
    assert not await sees(with_model(""), llm, None)


async def test_an_unlisted_host_is_refused_before_any_connection(
    llm: LLMClient,
) -> None:
    settings = Settings.model_validate({"llm": {"vision": "on"}})
    ctx = ChatContext(platform="qq", user_id="1", text="")
    ctx.parts = [ImagePart("http://169.254.169.254/latest/meta-data/")]
    assert await prepare(ctx, settings, llm) == [NOTICES["refused"]]
    assert ctx.parts[0].error == "refused"  # type: ignore[union-attr]
