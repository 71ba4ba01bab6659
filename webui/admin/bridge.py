"""The loaded built-in plugins the admin API reads from (their running services
and settings), found through NoneBot's plugin registry: None when one is not loaded."""

from __future__ import annotations

from types import ModuleType

import nonebot


def plugin(name: str) -> ModuleType | None:
    """The module of the built-in plugin ``name`` when it is loaded."""
    found = nonebot.get_plugin_by_module_name(f"plugins.{name}")
    return found.module if found is not None else None
