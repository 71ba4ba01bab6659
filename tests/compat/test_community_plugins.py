"""Real community plugins from PyPI inside a whole FreeChat process (``freechat
run``), driven by the NapCat-like OneBot v11 client on loopback: alconna's echo and
help (uniseg), apscheduler and localstore (through a small plugin that uses them),
status, blacklist and repeater. Each command is answered exactly once and never
reaches the model, the chat still answers, FreeChat's bans and per-group switches
cover the plugins, and a listed word in a plugin's message is masked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adapters.qq.adapter_harness import eventually
from tests.adapters.qq.napcat import NapCat

TOKEN = "compat-token"
SUPERUSER = 20002
GROUP = 20001
QUIET_GROUP = 20009
PLUGINS = [
    "nonebot_plugin_alconna.builtins.plugins.echo",
    "nonebot_plugin_alconna.builtins.plugins.help",
    "nonebot_plugin_apscheduler",
    "nonebot_plugin_localstore",
    "nonebot_plugin_status",
    "nonebot_plugin_blacklist",
    "nonebot-plugin-repeater",  # a PyPI name works as well as the module's
    "tests.compat.compat_plugin",
    "tests.compat.broken_plugin",  # reported by name and skipped
]


def said(peer: NapCat) -> list[tuple[str, str]]:
    """``(target, text)`` of every message sent, by any send API."""
    out = []
    for call in peer.calls:
        if not call["action"].startswith("send"):
            continue
        params = call["params"]
        message = params["message"]
        if isinstance(message, str):
            text = message
        else:
            text = "".join(
                s["data"]["text"] for s in message if s["type"] == "text"
            ).strip()
        group = params.get("group_id")
        target = f"group:{group}" if group else f"user:{params.get('user_id')}"
        out.append((target, text))
    return out


async def settle(peer: NapCat, n: int, timeout: float = 30.0) -> list[tuple[str, str]]:
    """Wait for ``n`` messages in all, then a moment for any extra one."""
    await eventually(lambda: len(said(peer)) >= n, timeout)
    await asyncio.sleep(1.0)
    return said(peer)


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    words = tmp_path / "words"
    words.mkdir()
    (words / "insult.txt").write_text("傻冒\n", encoding="utf-8")
    store = tmp_path / "localstore"
    return {
        "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}},
        "extra_plugins": PLUGINS,
        "superusers": [f"qq:{SUPERUSER}"],
        "nonebot": {
            "repeater_group": ["all"],
            "localstore_data_dir": str(store / "data"),
            "localstore_cache_dir": str(store / "cache"),
            "localstore_config_dir": str(store / "config"),
        },
        "plugins": {
            "chat": {},
            "admin": {},
            "rate_limit": {"user": 1000, "group": 0, "access_cache": 0},
            "sensitive_words": {"dirs": [str(words)]},
            "keywords": {},
            "history": {},
            "token_budget": {"tokenizer": "estimate"},
            "plugin_manager": {},
        },
    }


class _StartsWith(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(self)

    __hash__ = str.__hash__


ANY_ALCONNA_HELP = _StartsWith("# 当前可用的命令有")


async def test_community_plugins_answer_once_and_follow_policy(
    bot_process: Any, openai_stub: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    bp = await bot_process(config)
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    peer = await NapCat(url, 10001, TOKEN).connect()
    seen = 0

    async def new(n: int) -> list[tuple[str, str]]:
        """The next ``n`` messages, once no further one comes."""
        nonlocal seen
        got = await settle(peer, seen + n)
        assert len(got) == seen + n, got[seen:]
        seen += n
        return got[seen - n :]

    try:
        # blacklist keeps private chats silent until a superuser turns them on:
        # the superuser, configured as qq:20002, is recognised (a bare id for it)
        await peer.send_event(peer.private_message("/私聊响应", user_id=SUPERUSER))
        assert await new(1) == [(f"user:{SUPERUSER}", "10001 私聊响应.")]

        # alconna's echo through uniseg: private, group with and without @
        # (one at a time: alconna mixed up the targets of simultaneous echoes once)
        await peer.send_event(peer.private_message("/echo hello there"))
        assert await new(1) == [("user:30001", "hello there")]
        await peer.send_event(peer.group_message("/echo in group", group_id=GROUP))
        assert await new(1) == [(f"group:{GROUP}", "in group")]
        await peer.send_event(
            peer.group_message("/echo no at", group_id=GROUP, at_self=False)
        )
        assert await new(1) == [(f"group:{GROUP}", "no at")]
        # the plugins' /help and /status win over FreeChat's commands of the same
        # name, once each; a member the status plugin refuses gets FreeChat's polite
        # refusal instead (never the model)
        await peer.send_event(peer.private_message("/help"))
        assert await new(1) == [("user:30001", ANY_ALCONNA_HELP)]
        await peer.send_event(peer.private_message("/status", user_id=SUPERUSER))
        [(who, status)] = await new(1)
        assert who == f"user:{SUPERUSER}"
        assert status.startswith("CPU: ")  # nonebot-plugin-status, not FreeChat's
        await peer.send_event(peer.private_message("/status"))
        assert await new(1) == [("user:30001", "抱歉，这个命令只有管理员可以使用。")]
        # alconna's help has the Chinese name too: still one answer
        await peer.send_event(peer.private_message("/帮助"))
        assert await new(1) == [("user:30001", ANY_ALCONNA_HELP)]
        assert openai_stub.requests == []

        # the chat still answers, in private and in groups when mentioned
        await peer.send_event(peer.private_message("hi bot"))
        await peer.send_event(peer.group_message("hi all", group_id=GROUP))
        assert sorted(await new(2)) == [
            (f"group:{GROUP}", "Hello from the stub."),
            ("user:30001", "Hello from the stub."),
        ]
        assert len(openai_stub.requests) == 2

        # blacklist's own ban
        await peer.send_event(
            peer.private_message("/拉黑用户 30003", user_id=SUPERUSER)
        )
        assert await new(1) == [(f"user:{SUPERUSER}", "已拉黑 1 个用户: 30003")]
        await peer.send_event(peer.private_message("/echo blocked", user_id=30003))
        await peer.send_event(peer.private_message("are you there", user_id=30003))

        # FreeChat's ban covers the plugins
        await peer.send_event(peer.private_message("/ban qq:30005", user_id=SUPERUSER))
        assert (await new(1))[0][0] == f"user:{SUPERUSER}"
        await peer.send_event(peer.private_message("/echo banned", user_id=30005))
        await peer.send_event(
            peer.group_message("/echo banned", group_id=GROUP, user_id=30005)
        )
        await asyncio.sleep(1.5)
        assert len(said(peer)) == seen
        assert len(openai_stub.requests) == 2

        # /plugin in chat: superusers switch a plugin off for one group, live
        await peer.send_event(peer.private_message("/plugin list"))  # a member
        await peer.send_event(
            peer.group_message(
                "/plugin disable echo here", group_id=GROUP, user_id=SUPERUSER
            )
        )
        assert await new(1) == [
            (f"group:{GROUP}", f"echo disabled (qq:{GROUP}). 已停用。")
        ]
        await peer.send_event(peer.group_message("/echo muted", group_id=GROUP))
        await peer.send_event(peer.group_message("/echo elsewhere", group_id=30303))
        assert await new(1) == [("group:30303", "elsewhere")]
        await peer.send_event(
            peer.private_message(f"/plugin enable echo qq:{GROUP}", user_id=SUPERUSER)
        )
        assert len(await new(1)) == 1
        await peer.send_event(peer.group_message("/echo back", group_id=GROUP))
        assert await new(1) == [(f"group:{GROUP}", "back")]
        assert len(openai_stub.requests) == 2

        # repeater: a message said twice in a group is repeated, its listed word
        # masked; not in a group where FreeChat switched the plugin off
        await asyncio.to_thread(
            bp.cli,
            "plugin",
            "disable",
            "nonebot-plugin-repeater",
            "--group",
            f"qq:{QUIET_GROUP}",
        )
        for gid in (QUIET_GROUP, GROUP):
            for uid in (30001, 30004):
                await peer.send_event(
                    peer.group_message(
                        "傻冒 again", group_id=gid, user_id=uid, at_self=False
                    )
                )
        assert await new(1) == [(f"group:{GROUP}", "** again")]

        # apscheduler + localstore: a job sends outside any matcher; the note lies
        # in the configured (temporary) directory
        await peer.send_event(peer.group_message("/fc_later", group_id=GROUP))
        got = await new(2)
        assert got[0][1].startswith("scheduled; note at ")
        assert got[1] == (f"group:{GROUP}", "job says **")
        note = Path(got[0][1].removeprefix("scheduled; note at "))
        assert note.is_relative_to(tmp_path / "localstore" / "data")
        assert await asyncio.to_thread(note.read_text, encoding="utf-8") == "noted"
        assert len(openai_stub.requests) == 2

        # plugin messages are counted per plugin
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{bp.base_url}/metrics")).text
        assert (
            'freechat_plugin_sends_total{outcome="sent",plugin="nonebot_plugin_repeater"}'
            " 1.0" in metrics
        )
    except BaseException:
        print(bp.log()[-8000:])  # the bot's side of a failure
        raise
    finally:
        await peer.close()
    log = bp.log()
    assert (
        "plugin tests.compat.broken_plugin could not be loaded and was skipped" in log
    )
    assert "SerializeFailed" not in log
    assert "未找到适配器" not in log
