"""The documented example settings match what the code reads: every key of
``config/freechat.example.yml`` (commented adapter blocks included) exists."""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "freechat.example.yml"


def _config_fields(package: str) -> set[str]:
    """The fields of ``package``'s ``Config``, read without running the package's
    ``__init__`` (a plugin's registers itself with NoneBot: importing it here by
    its real name made a later ``nonebot.load_plugin`` refuse it as loaded)."""
    alias = "_example_" + package.replace(".", "_")
    if alias not in sys.modules:
        parent = types.ModuleType(alias)
        parent.__path__ = [str(ROOT.joinpath(*package.split(".")))]
        sys.modules[alias] = parent
    module = importlib.import_module(f"{alias}.config")
    fields: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, type) and value.__name__ == "Config":
            fields |= set(value.model_fields)
    return fields


def test_example_loads_as_is() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.server.port == 8080
    assert "chat" in settings.plugins


def test_every_plugin_key_is_read_by_its_plugin() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    for plugin, values in data["plugins"].items():
        fields = _config_fields(f"plugins.{plugin}")
        for key in values or {}:
            assert f"{plugin}_{key}" in fields, f"plugins.{plugin}.{key} is not read"


def _uncommented_adapters() -> dict[str, Any]:
    text = EXAMPLE.read_text()
    block = text.split("\nadapters:\n", 1)[1].split("\n\n", 1)[0]
    lines = []
    for line in block.splitlines():
        m = re.match(r"^  # (\s*\S.*)$", line)
        if m:
            lines.append("  " + m.group(1))
        elif not line.strip().startswith("#"):
            lines.append(line)
    return yaml.safe_load("adapters:\n" + "\n".join(lines))["adapters"]


@pytest.mark.parametrize("adapter", ["qq", "wechat", "ilink", "wecom", "mp"])
def test_every_documented_adapter_key_is_read(adapter: str) -> None:
    documented = _uncommented_adapters()
    assert adapter in documented, f"{adapter} is not documented in the example"
    fields = _config_fields(f"adapters.{adapter}")
    for key in documented[adapter] or {}:
        assert f"{adapter}_{key}" in fields, f"adapters.{adapter}.{key} is not read"
