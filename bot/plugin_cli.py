"""``freechat plugin search|install|remove|list|enable|disable``.

Settings come from ``plugins.plugin_manager`` in freechat.yml (``index_url``,
``constraints``, ``allow_urls``, ``store_url``); see :mod:`bot.plugin_store`.
``--restart`` asks the running FreeChat (its pid in ``<data_dir>/freechat.pid``)
for a graceful restart, which loads what was installed or removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from bot import plugin_store
from bot.cli import _with_store
from bot.exceptions import FreeChatError
from bot.settings import Settings

STORE_URL = "https://registry.nonebot.dev/plugins.json"
PYPI_URL = "https://pypi.org/pypi/{name}/json"
SEARCH_TIMEOUT = 10.0


def options(settings: Settings) -> plugin_store.PipOptions:
    section = settings.plugins.get("plugin_manager") or {}
    return plugin_store.PipOptions(
        index_url=str(section.get("index_url") or ""),
        constraints=str(section.get("constraints") or ""),
        allow_urls=bool(section.get("allow_urls", False)),
    )


def pid_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "freechat.pid"


def request_restart(settings: Settings) -> str:
    """Ask the running FreeChat to restart gracefully (SIGHUP)."""
    path = pid_file(settings)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return "FreeChat is not running here: the change applies at the next start"
    return f"FreeChat (pid {pid}) restarts gracefully"


async def search(query: str, settings: Settings) -> list[dict[str, str]]:
    """Plugins matching ``query``: the NoneBot plugin store's index when it is
    reachable, else PyPI's record of that exact name."""
    section = settings.plugins.get("plugin_manager") or {}
    store = str(section.get("store_url") or STORE_URL)
    q = query.lower()
    async with httpx.AsyncClient(timeout=SEARCH_TIMEOUT) as client:
        try:
            resp = await client.get(store)
            resp.raise_for_status()
            items: list[dict[str, Any]] = resp.json()
            return [
                {
                    "name": str(item.get("project_link", "")),
                    "module": str(item.get("module_name", "")),
                    "version": str(item.get("version", "")),
                    "description": str(item.get("desc", "")),
                }
                for item in items
                if q in json.dumps(item, ensure_ascii=False).lower()
            ][:50]
        except (httpx.HTTPError, ValueError, TypeError, AttributeError):
            pass
        try:
            resp = await client.get(PYPI_URL.format(name=q))
            resp.raise_for_status()
            info = resp.json()["info"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return []
    return [
        {
            "name": str(info.get("name", q)),
            "module": str(info.get("name", q)).replace("-", "_"),
            "version": str(info.get("version", "")),
            "description": str(info.get("summary", "")),
        }
    ]


def cmd_plugin(args: argparse.Namespace, settings: Settings) -> int:
    opts = options(settings)
    action: str = args.plugin_command
    if action == "search":
        for item in asyncio.run(search(args.query, settings)):
            print(f"{item['name']}=={item['version']}  {item['description']}")
        return 0
    if action == "list":
        plugins, switches = _with_store(settings, _list)
        for p in plugins:
            print(f"{p.name}=={p.version}  (module {p.module})")
        for name, scopes in sorted(switches.items()):
            states = ", ".join(
                f"{scope}: {'on' if on else 'off'}"
                for scope, on in sorted(scopes.items())
            )
            print(f"switch {name}: {states}")
        return 0
    if action in ("enable", "disable"):
        fn = plugin_store.enable if action == "enable" else plugin_store.disable
        scope = args.group or "global"

        async def switch() -> str:
            state = _state(settings)
            try:
                return await fn(args.name, scope, state=state)
            finally:
                if state is not None:
                    await state.close()

        plugin = _with_store(settings, switch)
        print(f"{plugin} {action}d {'in ' + scope if args.group else 'everywhere'}")
        return 0
    if action == "install":

        async def add() -> plugin_store.InstalledPlugin:
            return await plugin_store.install(args.spec, opts)

        p = _with_store(settings, add)
        print(f"installed {p.name}=={p.version} (module {p.module})")
    elif action == "remove":

        async def drop() -> plugin_store.InstalledPlugin:
            return await plugin_store.remove(args.name, opts)

        p = _with_store(settings, drop)
        print(f"removed {p.name}")
    else:  # argparse allows no other
        raise FreeChatError(f"unknown plugin command {action}")
    print(
        request_restart(settings)
        if args.restart
        else "restart FreeChat (or use --restart) to load the change"
    )
    return 0


def installed_modules(settings: Settings) -> list[str]:
    """Before start-up: install what the database lists and this environment
    lacks (with the plugin manager on); the modules to load."""
    if "plugin_manager" not in settings.plugins:
        return []

    async def go() -> list[str]:
        return await plugin_store.ensure_installed(options(settings))

    modules: list[str] = _with_store(settings, go)
    return modules


def _state(settings: Settings) -> Any:
    """The shared state, so running instances drop their switch caches at once
    (the in-process memory store reaches nobody: no state then)."""
    if settings.state.url.startswith("memory://"):
        return None
    from bot.state import open_state

    return open_state(settings.state.url)


async def _list() -> tuple[list[plugin_store.InstalledPlugin], dict[str, Any]]:
    return await plugin_store.installed(), await plugin_store.switches()


def add_parser(sub: Any) -> None:
    """Add ``plugin ...`` to the ``freechat`` parser."""
    plugin = sub.add_parser("plugin", help="search, install and switch plugins")
    plugin.set_defaults(func=cmd_plugin)
    psub = plugin.add_subparsers(dest="plugin_command", required=True)
    psub.add_parser("search", help="find plugins").add_argument("query")
    psub.add_parser("list", help="installed plugins and switches")
    for name, helptext in (("install", "install name==version"), ("remove", "")):
        p = psub.add_parser(name, help=helptext or "uninstall a plugin")
        p.add_argument("spec" if name == "install" else "name")
        p.add_argument("--restart", action="store_true", help="restart FreeChat")
    for name in ("enable", "disable"):
        p = psub.add_parser(name, help=f"{name} a plugin everywhere or in a group")
        p.add_argument("name", help="PyPI name or module name")
        p.add_argument("--group", default="", help="a group key, as qq:12345")
