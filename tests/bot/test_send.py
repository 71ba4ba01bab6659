"""Proactive sends in the kernel: target parsing, output filters, per-target and
per-platform rate limits, refusals (with a sender registered here)."""

from __future__ import annotations

import pytest

from bot import send as sending
from bot.runtime import Runtime
from bot.send import (
    RateLimited,
    SendRefused,
    Target,
    TargetError,
    parse_target,
    register_output_filter,
    register_sender,
)
from tests.bot.send_harness import send_runtime

__all__ = ["send_runtime"]


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("qq:group:123", Target("qq", "group", "123")),
        ("qq:user:456", Target("qq", "user", "456")),
        ("wechat:group:xxx@chatroom", Target("wechat", "group", "xxx@chatroom")),
        ("ilink:user:u1@im.wechat", Target("ilink", "user", "u1@im.wechat")),
        ("wecom:app:app1:user:zhang", Target("wecom", "user", "zhang", "app1", "app")),
        ("wecom:robot:ops", Target("wecom", "robot", "", "ops")),
        ("wecom:bot:lc:chat:c1", Target("wecom", "chat", "c1", "lc", "bot")),
        ("mp:main:user:oABC-_1", Target("mp", "user", "oABC-_1", "main")),
        ("web:user:alice", Target("web", "user", "alice")),
    ],
)
def test_targets_parse_and_print_back(text: str, target: Target) -> None:
    assert parse_target(text) == target
    assert str(target) == text


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("irc:user:x", "unknown platform 'irc'"),
        ("qq:channel:1", "part 2 must be 'group' or 'user'"),
        ("qq:group:abc", "QQ group id is a number"),
        ("qq:group:", "group id is empty"),
        ("qq:group:1:2", "4 parts, expected 3"),
        ("wecom:app:a:chat:1", "part 4 must be 'user'"),
        ("wecom:bot:b:user:1", "part 4 must be 'chat'"),
        ("wecom:pager:x", "part 2 must be 'app', 'robot' or 'bot'"),
        ("mp:main:group:o1", "part 3 must be 'user'"),
        ("web:user:a b", "space, colon or control character"),
        ("ilink:user:\ud800", "space, colon or control character"),
        ("web:user:" + "x" * 300, "longer than 256"),
        ("qq:group:" + "1" * 2000, "longer than 1024"),
    ],
)
def test_bad_targets_name_the_part(text: str, names: str) -> None:
    with pytest.raises(TargetError, match=names.replace("(", r"\(")):
        parse_target(text)


async def test_send_filters_then_limits(send_runtime: Runtime) -> None:
    got: list[tuple[str, str]] = []

    async def fake(target: Target, text: str) -> None:
        got.append((str(target), text))

    async def mask(text: str) -> str:
        return "" if text == "drop" else text.replace("bad", "***")

    dispose = register_sender("web", fake, lambda target: [(2, 60.0)])
    unfilter = register_output_filter(mask)
    try:
        assert await sending.send("web:user:alice", "a bad word") == "a *** word"
        await sending.send("web:user:alice", "two")
        with pytest.raises(RateLimited) as info:
            await sending.send("web:user:alice", "three")
        assert info.value.retry_after > 0
        await sending.send("web:user:bob", "another target has its own limit")
        with pytest.raises(SendRefused, match="empty"):
            await sending.send("web:user:bob", "  ")
        with pytest.raises(SendRefused, match="nothing left"):
            await sending.send("web:user:bob", "drop")
    finally:
        dispose()
        unfilter()
    assert got == [
        ("web:user:alice", "a *** word"),
        ("web:user:alice", "two"),
        ("web:user:bob", "another target has its own limit"),
    ]
    with pytest.raises(SendRefused, match="adapter is not enabled"):
        await sending.send("web:user:alice", "no sender now")


async def test_kernel_limit_per_target(send_runtime: Runtime) -> None:
    async def fake(target: Target, text: str) -> None:
        return None

    dispose = register_sender("qq", fake)
    sending.set_target_limit(3, 60.0)
    try:
        for _ in range(3):
            await sending.send("qq:group:1", "x")
        with pytest.raises(RateLimited):
            await sending.send("qq:group:1", "x")
    finally:
        sending.set_target_limit(60, 60.0)
        dispose()
