"""Parsing ``/plugin`` commands (no NoneBot needed)."""

from __future__ import annotations

from dataclasses import dataclass

USAGE = (
    "/plugin list | /plugin enable|disable <name> [here|<group key>] | "
    "/plugin install <name==version> [restart] | /plugin remove <name> [restart]"
)


class UsageError(ValueError):
    """A ``/plugin`` command that cannot be understood."""


@dataclass(frozen=True, slots=True)
class PluginCommand:
    op: str
    name: str = ""
    #: ``global`` or a group key
    scope: str = "global"
    restart: bool = False


def parse(args: list[str], group_key: str | None) -> PluginCommand:
    """``/plugin`` arguments; ``here`` is the group the command came from."""
    if not args:
        raise UsageError(USAGE)
    op, rest = args[0].lower(), args[1:]
    if op == "list" and not rest:
        return PluginCommand("list")
    if op in ("enable", "disable") and 1 <= len(rest) <= 2:
        scope = rest[1] if len(rest) == 2 else "global"
        if scope == "here":
            if group_key is None:
                raise UsageError("'here' works in a group only")
            scope = group_key
        return PluginCommand(op, rest[0], scope)
    if op in ("install", "remove") and 1 <= len(rest) <= 2:
        if len(rest) == 2 and rest[1] != "restart":
            raise UsageError(USAGE)
        return PluginCommand(op, rest[0], restart=len(rest) == 2)
    raise UsageError(USAGE)
