"""Parsing ``/plugin`` commands (``plugins.plugin_manager.core``, no NoneBot)."""

from __future__ import annotations

import sys

import pytest


def test_plugin_commands_parse(nonebug_init: None) -> None:
    import nonebot

    if "plugins.plugin_manager" not in sys.modules:
        assert nonebot.load_plugin("plugins.plugin_manager") is not None
    from plugins.plugin_manager.core import PluginCommand, UsageError, parse

    assert parse(["list"], None) == PluginCommand("list")
    assert parse(["disable", "echo"], None) == PluginCommand("disable", "echo")
    assert parse(["enable", "echo", "here"], "qq:1") == PluginCommand(
        "enable", "echo", "qq:1"
    )
    assert parse(["disable", "echo", "qq:2"], "qq:1").scope == "qq:2"
    assert parse(["install", "x==1", "restart"], None) == PluginCommand(
        "install", "x==1", restart=True
    )
    for args, group in (
        ([], None),
        (["enable", "echo", "here"], None),
        (["install", "x==1", "now"], None),
        (["list", "x"], None),
        (["frobnicate"], None),
    ):
        with pytest.raises(UsageError):
            parse(args, group)
