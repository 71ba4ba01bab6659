"""The console's chat commands in the whole bot over QQ: /help and every list
command in Chinese and English, a polite refusal for members, superusers' commands
in groups without an @, group admins' /group, and /usage and /status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.qq.napcat import NapCat, text_of
from tests.adapters.qq.test_qq_process import config, connect

SUPERUSER, MEMBER, GROUP_ADMIN = 1, 2, 3


async def ask(peer: NapCat, user: int, text: str, *, role: str = "member") -> str:
    """Send ``text`` in the group, without an @, and return the bot's answer."""
    n = len(peer.sends())
    await peer.send_event(
        peer.group_message(text, user_id=user, at_self=False, role=role)
    )
    sends = await peer.wait_sends(n + 1, timeout=30)
    return text_of(sends[-1])


EXPECT = {
    "zh-CN": {
        "help": "可用命令",
        "denied": "抱歉，这个命令只有管理员可以使用。",
        "ban": "封禁列表（1）",
        "word": "敏感词（1）",
        "keyword": "关键词规则（1）",
        "budget": "qq:5 的额度：今日 0/",
        "saved": "已保存本群设置。",
        "usage": "qq:2 的额度：今日 0/1000",
    },
    "en": {
        "help": "Commands you can use",
        "denied": "Sorry, only admins can use that command.",
        "ban": "Banned (1):",
        "word": "Sensitive words (1):",
        "keyword": "Keyword rules (1):",
        "budget": "Quota of qq:5: today 0/",
        "saved": "Group settings saved.",
        "usage": "Quota of qq:2: today 0/1000",
    },
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_console_commands(
    bot_process: Any, openai_stub: Any, locale: str
) -> None:
    openai_stub.set_default("model answer")
    words = EXPECT[locale]
    bp = await bot_process(
        config(
            superusers=[f"qq:{SUPERUSER}"],
            locale=locale,
            plugins={
                "chat": {},
                "admin": {},
                "keywords": {},
                "token_budget": {"user_daily": 1000},
            },
        )
    )
    peer = await connect(bp)
    try:
        # /help for everyone, with admin commands for the superuser only
        member_help = await ask(peer, MEMBER, "/help")
        assert words["help"] in member_help
        assert "/ban" not in member_help
        for alias in ("/help", "/帮助", "/menu"):
            full = await ask(peer, SUPERUSER, alias)
            assert words["help"] in full
            assert "/ban list" in full
        # members are refused politely, for lists and changes alike
        for command in ("/ban list", "/word list", "/keyword list",
                        "/budget show qq:5", "/ban qq:9", "/group wake all",
                        "/status", "/usage qq:1"):  # fmt: skip
            assert await ask(peer, MEMBER, command) == words["denied"], command
        # a superuser's commands work in the group without an @
        assert "qq:9" in await ask(peer, SUPERUSER, "/ban qq:9 spam")
        await ask(peer, SUPERUSER, "/word add 坏词 rude")
        await ask(peer, SUPERUSER, "/keyword add exact ping pong")
        banned = await ask(peer, SUPERUSER, "/ban list")
        assert banned.startswith(words["ban"])
        assert "qq:9 spam" in banned
        listed = await ask(peer, SUPERUSER, "/word list rude")
        assert listed.startswith(words["word"])
        assert "坏词" in listed
        rules = await ask(peer, SUPERUSER, "/keyword list")
        assert rules.startswith(words["keyword"])
        assert "ping" in rules
        assert (await ask(peer, SUPERUSER, "/budget show qq:5")).startswith(
            words["budget"]
        )
        assert (await ask(peer, MEMBER, "/usage")).startswith(words["usage"])
        assert "FreeChat" in await ask(peer, SUPERUSER, "/status")
        # a group admin may set their group: wake all, then plain messages answer
        saved = await ask(peer, GROUP_ADMIN, "/group wake all", role="admin")
        assert saved.startswith(words["saved"])
        for _ in range(100):  # the change feed applies it a moment later
            if "all" in await ask(peer, GROUP_ADMIN, "/group show", role="admin"):
                break
        assert await ask(peer, MEMBER, "hello there") == "model answer"
        assert openai_stub.requests[-1]["messages"][-1]["content"] == "hello there"
        # no command ever reached the model
        assert all(
            not r["messages"][-1]["content"].startswith("/")
            for r in openai_stub.requests
        )
    finally:
        await peer.close()
