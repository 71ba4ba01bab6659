"""Installing, listing and switching community plugins (the plugin manager's
machinery, without NoneBot: the ``freechat plugin`` command line runs it before
NoneBot starts, the ``plugin_manager`` plugin and the admin API while it runs).

* **Install** by PyPI name with a pinned version (``name==1.2``); a URL, a path or
  a VCS spec only with ``plugins.allow_urls``. pip runs with FreeChat's
  ``constraints.txt``, first as a dry run: an install that would change any pinned
  package fails there with pip's own words naming the conflict, and nothing is
  changed. ``pip check`` must report nothing new afterwards.
* The installed plugins are kept in the database (``kv`` row ``plugins.installed``),
  so ``freechat run`` on another instance or a rebuilt container installs the same
  set (:func:`ensure_installed`) before NoneBot loads them.
* **Enable / disable**, globally or for one group, are ``PluginSwitch`` rows that
  the access guard reads (and drops its cache on the ``access`` channel): they
  take effect at once.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import logging
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from bot.exceptions import FreeChatError
from bot.store.models import KeyValue, PluginSwitch

__all__ = [
    "InstalledPlugin",
    "PluginError",
    "disable",
    "enable",
    "ensure_installed",
    "install",
    "installed",
    "module_of",
    "parse_spec",
    "remove",
    "switches",
]

log = logging.getLogger(__name__)

KV_KEY = "plugins.installed"
#: the channel the access guard watches (plugins/rate_limit/access.py)
ACCESS_CHANNEL = "access"
DEFAULT_CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"
PIP_TIMEOUT = 600.0
_URLISH = re.compile(
    r"://|^\.|^/|^~|\\|^git\+|^hg\+|^svn\+|^bzr\+|^file:|\.whl$|\.zip$"
)


class PluginError(FreeChatError):
    """A plugin could not be installed, removed or switched (the message says
    why, for the operator)."""


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """One plugin the manager installed."""

    name: str  # the distribution's canonical name (PyPI)
    version: str
    module: str  # what NoneBot loads


@dataclass(frozen=True, slots=True)
class PipOptions:
    """How pip is run: the package index, the constraints and URL installs."""

    index_url: str = ""
    constraints: str = ""
    allow_urls: bool = False
    python: str = sys.executable


def parse_spec(spec: str, *, allow_urls: bool = False) -> Requirement:
    """A ``name==version`` requirement; anything else is refused with a reason."""
    spec = spec.strip()
    if not spec or len(spec) > 200 or not spec.isprintable():
        raise PluginError("give a plugin as name==version (PyPI)")
    if _URLISH.search(spec) or "@" in spec:
        if allow_urls:
            return Requirement(spec) if "@" in spec else Requirement(f"x @ {spec}")
        raise PluginError(
            f"{spec}: only PyPI names with a pinned version are installed "
            "(URLs, paths and VCS specs need plugins.plugin_manager.allow_urls)"
        )
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        raise PluginError(f"{spec}: not a valid requirement (name==version)") from None
    pins = [s for s in req.specifier if s.operator == "=="]
    if len(pins) != 1 or len(req.specifier) != 1 or "*" in pins[0].version:
        raise PluginError(f"{spec}: pin one version, as {req.name}==1.2.3")
    if req.marker is not None or req.extras:
        raise PluginError(f"{spec}: extras and markers are not supported")
    return req


def module_of(name: str) -> str:
    """The module NoneBot loads for ``name``: a module name as it is, or an
    installed distribution's top-level package (PyPI name ``nonebot-plugin-x``:
    ``nonebot_plugin_x``)."""
    if re.fullmatch(r"[A-Za-z_][\w.]*", name):
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            pass
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return canonicalize_name(name).replace("-", "_")
    top = (dist.read_text("top_level.txt") or "").split()
    if top:
        return top[0]
    for file in dist.files or ():
        parts = file.parts
        if len(parts) >= 2 and parts[1] == "__init__.py":
            return str(parts[0])
    return canonicalize_name(name).replace("-", "_")


# ------------------------------------------------------------------------ pip


async def _run(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), PIP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise PluginError(f"pip did not finish in {PIP_TIMEOUT:.0f} s") from None
    return int(proc.returncode or 0), out.decode("utf-8", "replace")


def _pip_args(opts: PipOptions) -> list[str]:
    return [opts.python, "-m", "pip", "--disable-pip-version-check"]


def _install_args(opts: PipOptions) -> list[str]:
    args = ["install", "--no-input"]
    if opts.index_url:
        args += ["--index-url", opts.index_url]
    constraints = opts.constraints or (
        str(DEFAULT_CONSTRAINTS) if DEFAULT_CONSTRAINTS.exists() else ""
    )
    if constraints:
        args += ["-c", constraints]
    return args


def _conflict(output: str) -> str:
    """pip's own lines naming a conflict (or its last error line)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    caused = [
        line
        for line in lines
        if " depends on " in line or "(constraint)" in line or "requested" in line
    ]
    if caused:
        return "; ".join(dict.fromkeys(caused))
    errors = [line for line in lines if line.startswith("ERROR")]
    return errors[-1] if errors else (lines[-1] if lines else "pip failed")


async def pip_check(opts: PipOptions) -> set[str]:
    """What ``pip check`` reports (the lines; empty when all is consistent)."""
    _, out = await _run(*_pip_args(opts), "check")
    return {
        line.strip()
        for line in out.splitlines()
        if line.strip() and "No broken requirements" not in line
    }


async def pip_install(spec: str, opts: PipOptions) -> None:
    """Install ``spec`` with FreeChat's constraints, or refuse and change nothing."""
    before = await pip_check(opts)
    base = [*_pip_args(opts), *_install_args(opts)]
    code, out = await _run(*base, "--dry-run", spec)
    if code != 0:
        raise PluginError(f"{spec} was not installed: {_conflict(out)}")
    code, out = await _run(*base, spec)
    if code != 0:
        raise PluginError(f"{spec} was not installed: {_conflict(out)}")
    new = await pip_check(opts) - before
    if new:
        raise PluginError(f"{spec} broke requirements: {'; '.join(sorted(new))}")


async def pip_uninstall(name: str, opts: PipOptions) -> None:
    code, out = await _run(*_pip_args(opts), "uninstall", "-y", name)
    if code != 0:
        raise PluginError(f"{name} was not removed: {_conflict(out)}")


# ------------------------------------------------------------ the database list


async def installed() -> list[InstalledPlugin]:
    """The plugins the manager installed, as the database keeps them."""
    row = await KeyValue.get_or_none(key=KV_KEY)
    if row is None:
        return []
    try:
        items: list[dict[str, Any]] = json.loads(row.value)
        return [InstalledPlugin(**item) for item in items]
    except (ValueError, TypeError):
        log.warning("the list of installed plugins is unreadable; ignored")
        return []


async def _save(plugins: list[InstalledPlugin]) -> None:
    value = json.dumps([asdict(p) for p in plugins], ensure_ascii=False)
    await KeyValue.update_or_create(key=KV_KEY, defaults={"value": value})


async def install(spec: str, opts: PipOptions) -> InstalledPlugin:
    """Install ``spec`` (``name==version``) and remember it."""
    req = parse_spec(spec, allow_urls=opts.allow_urls)
    await pip_install(spec, opts)
    name = canonicalize_name(req.name)
    version = next(iter(req.specifier)).version if req.specifier else ""
    if not version:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = ""
    importlib.invalidate_caches()
    plugin = InstalledPlugin(name, version, module_of(name))
    rest = [p for p in await installed() if p.name != name]
    await _save([*rest, plugin])
    return plugin


async def remove(name: str, opts: PipOptions) -> InstalledPlugin:
    """Uninstall a plugin the manager installed (by PyPI or module name)."""
    key = canonicalize_name(name)
    plugins = await installed()
    found = [p for p in plugins if p.name == key or p.module == name]
    if not found:
        raise PluginError(f"{name} was not installed with the plugin manager")
    await pip_uninstall(found[0].name, opts)
    await _save([p for p in plugins if p is not found[0]])
    return found[0]


async def ensure_installed(opts: PipOptions) -> list[str]:
    """Install what the database lists but this environment lacks; return the
    modules to load (a plugin that cannot be installed is reported and left out)."""
    modules = []
    for plugin in await installed():
        if importlib.util.find_spec(plugin.module) is None:
            spec = f"{plugin.name}=={plugin.version}" if plugin.version else plugin.name
            try:
                await pip_install(spec, opts)
            except PluginError as exc:
                log.error("plugin %s skipped: %s", plugin.name, exc)
                continue
            importlib.invalidate_caches()
        modules.append(plugin.module)
    return modules


# -------------------------------------------------------------------- switches


def plugin_id(name: str) -> str:
    """The switch key of the plugin ``name`` (PyPI or module name): the last part
    of its module (``nonebot_plugin_status``, ``echo``, ``chat``), as the access
    guard reads it from NoneBot's plugin id."""
    return module_of(name).rsplit(".", 1)[-1]


async def _switch(name: str, scope: str, enabled: bool, state: Any | None) -> str:
    plugin = plugin_id(name)
    scope = scope or "global"
    await PluginSwitch.update_or_create(
        plugin=plugin, scope=scope, defaults={"enabled": enabled}
    )
    if state is not None:
        await state.publish(ACCESS_CHANNEL, {"kind": "switch", "key": plugin})
    return plugin


async def enable(name: str, scope: str = "global", *, state: Any = None) -> str:
    """Turn ``name`` on (for the group key ``scope``, or everywhere)."""
    return await _switch(name, scope, True, state)


async def disable(name: str, scope: str = "global", *, state: Any = None) -> str:
    """Turn ``name`` off (for the group key ``scope``, or everywhere)."""
    return await _switch(name, scope, False, state)


async def switches() -> dict[str, dict[str, bool]]:
    """``{plugin id: {scope: enabled}}`` of every switch set."""
    out: dict[str, dict[str, bool]] = {}
    for plugin, scope, enabled in await PluginSwitch.all().values_list(
        "plugin", "scope", "enabled"
    ):
        out.setdefault(str(plugin), {})[str(scope)] = bool(enabled)
    return out
