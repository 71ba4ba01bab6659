"""The plugin manager in chat: ``/plugin list|enable|disable|install|remove`` for
superusers. The machinery (pip with FreeChat's constraints, the installed list in
the database, switches) is :mod:`bot.plugin_store`, shared with ``freechat plugin``
and the admin API; switches take effect at once, installs after a graceful
restart (``restart``)."""

from __future__ import annotations

import logging
import os
import signal

from nonebot import get_loaded_plugins, get_plugin_config
from nonebot.adapters import Bot, Event
from nonebot.permission import SUPERUSER
from nonebot.plugin import PluginMetadata
from nonebot.typing import T_State

from bot import plugin_store
from bot.commands import command_arg, command_matcher, on_commands
from bot.platform import is_superuser, platform_key
from bot.runtime import get_runtime

from .config import Config
from .core import PluginCommand, UsageError, parse

__plugin_meta__ = PluginMetadata(
    name="plugin_manager",
    description="Install, list, enable and disable plugins",
    usage="/plugin list | enable|disable <name> [here|<group>] | install|remove",
    type="application",
    config=Config,
)

log = logging.getLogger(__name__)
config = get_plugin_config(Config)
matcher = command_matcher()


def options() -> plugin_store.PipOptions:
    return plugin_store.PipOptions(
        index_url=config.plugin_manager_index_url,
        constraints=config.plugin_manager_constraints,
        allow_urls=config.plugin_manager_allow_urls,
    )


async def _is_superuser(bot: Bot, event: Event) -> bool:
    platform = platform_key(bot.adapter.get_name())
    if is_superuser(bot, platform, event.get_user_id()):
        return True
    return bool(await SUPERUSER(bot, event))


def _group_key(bot: Bot, event: Event) -> str | None:
    group = getattr(event, "group_id", None)
    if group in (None, ""):
        return None
    return f"{platform_key(bot.adapter.get_name())}:{group}"


async def listing() -> str:
    """What is loaded, installed and switched off, for ``/plugin list``."""
    loaded = sorted(p.id_ for p in get_loaded_plugins())
    installed = [f"{p.name}=={p.version}" for p in await plugin_store.installed()]
    off = [
        f"{name}@{scope}"
        for name, scopes in sorted((await plugin_store.switches()).items())
        for scope, on in sorted(scopes.items())
        if not on
    ]
    return (
        f"Loaded 已加载: {', '.join(loaded)}\n"
        f"Installed 已安装: {', '.join(installed) or '-'}\n"
        f"Off 已关闭: {', '.join(off) or '-'}"
    )


async def run(cmd: PluginCommand) -> str:
    """Carry out ``cmd``; the answer for the superuser."""
    state = get_runtime().state
    if cmd.op == "list":
        return await listing()
    if cmd.op in ("enable", "disable"):
        fn = plugin_store.enable if cmd.op == "enable" else plugin_store.disable
        plugin = await fn(cmd.name, cmd.scope, state=state)
        where = "everywhere 全局" if cmd.scope == "global" else cmd.scope
        return f"{plugin} {cmd.op}d ({where}). 已{'启用' if cmd.op == 'enable' else '停用'}。"
    if cmd.op == "install":
        p = await plugin_store.install(cmd.name, options())
        done = f"Installed 已安装 {p.name}=={p.version} (module {p.module})."
    else:
        p = await plugin_store.remove(cmd.name, options())
        done = f"Removed 已卸载 {p.name}."
    if cmd.restart and hasattr(signal, "SIGHUP"):
        # freechat run restarts gracefully on SIGHUP (bot.app.run)
        os.kill(os.getpid(), signal.SIGHUP)
        return done + " Restarting 正在重启."
    return done + " Restart to load it. 重启后生效。"


@on_commands("plugin")
async def _plugin(bot: Bot, event: Event, state: T_State) -> None:
    if not await _is_superuser(bot, event):
        await matcher.finish()
    args = command_arg(state).extract_plain_text().split()
    try:
        cmd = parse(args, _group_key(bot, event))
    except UsageError as exc:
        await matcher.finish(f"Usage 用法: {exc}")
    try:
        answer = await run(cmd)
    except plugin_store.PluginError as exc:
        answer = f"Failed 失败: {exc}"
    await matcher.finish(answer)
