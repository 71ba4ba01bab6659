"""Admin API: the loaded NoneBot plugins (built-in and community), their switches
(globally or per group) and installing or removing community plugins.

Everything goes through :mod:`bot.plugin_store`, the machinery the ``/plugin`` chat
command and ``freechat plugin`` use: a switch is a ``PluginSwitch`` row that the
access guard reads (published on the ``access`` channel, so every instance applies
it at once); an install or removal changes the environment and the database list
and takes effect after a graceful restart. Admins only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path
from packaging.utils import canonicalize_name
from pydantic import BaseModel, Field

from bot import __version__, plugin_cli, plugin_store
from bot.runtime import get_runtime

from . import audit
from .deps import AdminReader, AdminWriter, actor

router = APIRouter()
#: the change feed channel for installs and removals (switches use ``access``)
CHANNEL = "plugins"
RESTART_NOTICE = "Restart FreeChat gracefully to load the change. 平滑重启后生效。"
PluginName = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
]
_pip = asyncio.Lock()  # one pip run at a time in this instance


class PluginOut(BaseModel):
    #: the switch key (the last part of the module, as the access guard reads it)
    name: str
    module: str
    description: str
    #: ``builtin`` (FreeChat's plugins/), ``community`` (anything else)
    kind: Literal["builtin", "community"]
    #: installed through the plugin manager (then removable here)
    managed: bool
    version: str
    #: the global switch (no row: on)
    enabled: bool
    #: per-group switches, ``{group key: on}``
    groups: dict[str, bool]


class PluginList(BaseModel):
    items: list[PluginOut]
    #: installed through the manager but not loaded yet (restart pending)
    pending: list[str]


class SwitchIn(BaseModel):
    model_config = {"extra": "forbid"}
    #: ``global`` or a group key (``qq:12345``)
    scope: str = Field(
        "global", min_length=1, max_length=191, pattern=r"^(global|[a-z0-9_]+:.+)$"
    )
    enabled: bool


class InstallIn(BaseModel):
    model_config = {"extra": "forbid"}
    spec: str = Field(min_length=1, max_length=200)


class InstallOut(BaseModel):
    name: str
    version: str
    module: str
    restart_required: bool = True
    message: str = RESTART_NOTICE


def _switch_key(plugin_id: str) -> str:
    return plugin_id.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def _version(module: str, owners: Mapping[str, list[str]]) -> str:
    """The installed version of the distribution that provides ``module``."""
    for dist in owners.get(module.split(".", 1)[0]) or []:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


async def plugin_list() -> PluginList:
    import nonebot

    managed = {p.module: p for p in await plugin_store.installed()}
    switches = await plugin_store.switches()
    owners = importlib.metadata.packages_distributions()  # read once per listing
    items = []
    for plugin in sorted(nonebot.get_loaded_plugins(), key=lambda p: p.id_):
        module = plugin.module_name
        key = _switch_key(plugin.id_)
        record = managed.get(module.split(".", 1)[0]) or managed.get(module)
        builtin = module.startswith("plugins.")
        scopes = switches.get(key, {})
        meta = plugin.metadata
        items.append(
            PluginOut(
                name=key,
                module=module,
                description=meta.description if meta else "",
                kind="builtin" if builtin else "community",
                managed=record is not None,
                version=(
                    record.version
                    if record
                    else (__version__ if builtin else _version(module, owners))
                ),
                enabled=scopes.get("global", True),
                groups={s: on for s, on in sorted(scopes.items()) if s != "global"},
            )
        )
    loaded = {p.module_name.split(".", 1)[0] for p in nonebot.get_loaded_plugins()}
    pending = [
        f"{p.name}=={p.version}" for p in managed.values() if p.module not in loaded
    ]
    return PluginList(items=items, pending=pending)


async def _loaded(name: str) -> PluginOut:
    for item in (await plugin_list()).items:
        if item.name == name:
            return item
    raise HTTPException(404, "no such plugin loaded")


async def set_switch(who: str, name: str, scope: str, enabled: bool) -> PluginOut:
    """Switch the loaded plugin ``name`` on or off for ``scope`` (``global`` or a
    group key), through :mod:`bot.plugin_store`; audited. Used by the group page's
    plugin field too."""
    before = await _loaded(name)
    fn = plugin_store.enable if enabled else plugin_store.disable
    await fn(name, scope, state=get_runtime().state)
    after = await _loaded(name)
    await audit.record(
        who, "plugin.switch", f"plugin:{name}",
        {"scope": scope, "enabled": _state(before, scope)},
        {"scope": scope, "enabled": enabled},
    )  # fmt: skip
    return after


def _state(item: PluginOut, scope: str) -> bool | None:
    return item.enabled if scope == "global" else item.groups.get(scope)


@router.get("/plugins", tags=["plugins"])
async def list_plugins(session: AdminReader) -> PluginList:
    return await plugin_list()


@router.put("/plugins/{name}/switch", tags=["plugins"])
async def switch_plugin(
    name: PluginName, body: SwitchIn, session: AdminWriter
) -> PluginOut:
    return await set_switch(actor(session), name, body.scope, body.enabled)


def _options() -> plugin_store.PipOptions:
    # the console installs PyPI names with a pinned version only, whatever
    # plugins.plugin_manager.allow_urls says for the command line
    opts = plugin_cli.options(get_runtime().settings)
    return dataclasses.replace(opts, allow_urls=False)


@router.post("/plugins", status_code=201, tags=["plugins"])
async def install_plugin(body: InstallIn, session: AdminWriter) -> InstallOut:
    try:
        plugin_store.parse_spec(body.spec, allow_urls=False)
    except plugin_store.PluginError as exc:
        raise HTTPException(400, str(exc)) from None
    if _pip.locked():
        raise HTTPException(409, "another install or removal is running")
    async with _pip:
        try:
            p = await plugin_store.install(body.spec, _options())
        except plugin_store.PluginError as exc:
            raise HTTPException(409, str(exc)) from None
    out = InstallOut(name=p.name, version=p.version, module=p.module)
    await audit.record(
        actor(session), "plugin.install", f"plugin:{p.name}", None,
        out.model_dump(), channel=CHANNEL, message={"kind": "install", "key": p.name},
    )  # fmt: skip
    return out


@router.delete("/plugins/{name}", tags=["plugins"])
async def remove_plugin(name: PluginName, session: AdminWriter) -> InstallOut:
    known = await plugin_store.installed()
    if not any(p.name == canonicalize_name(name) or p.module == name for p in known):
        raise HTTPException(404, f"{name} was not installed with the plugin manager")
    if _pip.locked():
        raise HTTPException(409, "another install or removal is running")
    async with _pip:
        try:
            p = await plugin_store.remove(name, _options())
        except plugin_store.PluginError as exc:
            raise HTTPException(409, str(exc)) from None
    out = InstallOut(name=p.name, version=p.version, module=p.module)
    await audit.record(
        actor(session), "plugin.remove", f"plugin:{p.name}", out.model_dump(),
        None, channel=CHANNEL, message={"kind": "remove", "key": p.name},
    )  # fmt: skip
    return out
