"""``freechat user ...``, ``freechat group ...`` and ``freechat ilink login``: manage
an installation from a shell, with the same rules as the admin API (roles,
validation) and an audit row for every change (actor ``cli``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from bot.exceptions import FreeChatError
from bot.settings import Settings

WithStore = Callable[[Settings, Callable[[], Awaitable[Any]]], Any]
ReadPassword = Callable[[bool], str]


async def _audit(action: str, target: str, before: Any, after: Any) -> None:
    from bot.store.models import AuditLog

    def dump(v: Any) -> str:
        return "" if v is None else json.dumps(v, ensure_ascii=False, default=str)

    await AuditLog.create(
        actor="cli",
        action=action,
        target=target,
        before=dump(before),
        after=dump(after),
    )


async def _user(name: str) -> Any:
    from bot.store.models import User

    user = await User.get_or_none(name=name)
    if user is None:
        raise FreeChatError(f"no user named {name}")
    return user


def _state(user: Any) -> dict[str, Any]:
    from bot.auth import role_of

    return {"name": user.name, "role": role_of(user), "disabled": user.disabled}


def user_list(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    from bot.store.models import User

    async def go() -> list[dict[str, Any]]:
        return [_state(u) for u in await User.all().order_by("name")]

    for row in run(settings, go):
        flag = " (disabled)" if row["disabled"] else ""
        print(f"{row['name']}\t{row['role']}{flag}")
    return 0


def user_disable(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    async def go() -> None:
        user = await _user(args.name)
        before = _state(user)
        user.disabled = not args.enable
        await user.save(update_fields=["disabled"])
        await _audit("user.update", f"user:{user.name}", before, _state(user))

    run(settings, go)
    print(f"user {args.name} {'enabled' if args.enable else 'disabled'}")
    return 0


def user_delete(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    async def go() -> None:
        user = await _user(args.name)
        before = _state(user)
        await user.delete()
        await _audit("user.delete", f"user:{args.name}", before, None)

    run(settings, go)
    print(f"user {args.name} deleted")
    return 0


def user_passwd(
    args: argparse.Namespace, settings: Settings, run: WithStore, read: ReadPassword
) -> int:
    from bot.auth import AuthError, hash_password

    password = read(args.password_stdin)
    try:
        hashed = hash_password(password)
    except AuthError as exc:
        raise FreeChatError(str(exc)) from None

    async def go() -> None:
        user = await _user(args.name)
        user.password_hash = hashed
        await user.save(update_fields=["password_hash"])
        await _audit("user.update", f"user:{user.name}", None, {"password": "changed"})

    run(settings, go)
    print(f"password of {args.name} changed")
    return 0


def user_role(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    from bot.auth import AuthError, set_role

    async def go() -> None:
        user = await _user(args.name)
        before = _state(user)
        try:
            await set_role(user, args.role)
        except AuthError as exc:
            raise FreeChatError(str(exc)) from None
        await _audit("user.update", f"user:{user.name}", before, _state(user))

    run(settings, go)
    print(f"user {args.name} is now {args.role}")
    return 0


def group_list(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    from bot.groups import parse
    from bot.store.models import GroupSetting

    async def go() -> list[tuple[str, str, str]]:
        rows = await GroupSetting.all().order_by("group_key")
        return [
            (r.group_key, r.name, parse(r.settings).model_dump_json()) for r in rows
        ]

    for key, name, data in run(settings, go):
        print(f"{key}\t{name}\t{data}")
    return 0


def _value(raw: str) -> Any:
    """A setting's value from the command line: JSON if it parses, else the text."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def group_set(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    """``freechat group set qq:123 wake=all persona=cat prefixes='["bot"]'``"""
    from pydantic import ValidationError

    from bot.groups import parse, save_settings
    from bot.store.models import GroupSetting

    changes: dict[str, Any] = {}
    for pair in args.settings:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise FreeChatError(f"expected name=value, got {pair!r}")
        changes[name.strip()] = None if raw in ("", "null") else _value(raw)

    async def go() -> str:
        from bot.state import open_state

        row, _ = await GroupSetting.get_or_create(group_key=args.key)
        before = parse(row.settings)
        try:
            after = type(before).model_validate(before.model_dump() | changes)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise FreeChatError(f"{where}: {first['msg']}") from None
        # running instances that share this state URL apply it at once
        state = open_state(settings.state.url)
        try:
            await save_settings(state, args.key, after, "cli")
        finally:
            await state.close()
        return after.model_dump_json()

    print(run(settings, go))
    return 0


def ilink_login(args: argparse.Namespace, settings: Settings, run: WithStore) -> int:
    from adapters.ilink.config import DEFAULT_BASE_URL
    from adapters.ilink.login import login

    base = args.base_url or str(
        (settings.adapters.get("ilink") or {}).get("base_url") or DEFAULT_BASE_URL
    )

    async def go() -> str:
        return await login(base, settings=settings, wait_s=args.wait)

    run(settings, go)
    print("iLink login confirmed; the token is stored. Start FreeChat with the "
          "ilink adapter enabled.")  # fmt: skip
    return 0


def add_parsers(sub: Any, user: Any, run: WithStore, read: ReadPassword) -> None:
    """Add the subcommands to ``freechat``'s parser (``user`` is its ``user``
    subparsers)."""

    def bind(fn: Callable[..., int], *extra: Any) -> Callable[..., int]:
        return lambda args, settings: fn(args, settings, run, *extra)

    p = user.add_parser("list", help="list web users and their roles")
    p.set_defaults(func=bind(user_list))
    p = user.add_parser("disable", help="disable a user (--enable to undo)")
    p.add_argument("name")
    p.add_argument("--enable", action="store_true")
    p.set_defaults(func=bind(user_disable))
    p = user.add_parser("delete", help="delete a user")
    p.add_argument("name")
    p.set_defaults(func=bind(user_delete))
    p = user.add_parser("passwd", help="set a user's password (prompt or stdin)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=bind(user_passwd, read))
    p = user.add_parser("role", help="set a user's role")
    p.add_argument("name")
    p.add_argument("role", choices=["admin", "operator", "user"])
    p.set_defaults(func=bind(user_role))

    group = sub.add_parser("group", help="per-group settings").add_subparsers(
        dest="group_command", required=True
    )
    p = group.add_parser("list", help="groups the bot has seen, with settings")
    p.set_defaults(func=bind(group_list))
    p = group.add_parser("set", help="change settings: KEY name=value ...")
    p.add_argument("key", help="platform:group_id, e.g. qq:123456")
    p.add_argument("settings", nargs="+", help="e.g. wake=all probability=0.2")
    p.set_defaults(func=bind(group_set))

    ilink = sub.add_parser("ilink", help="personal WeChat (iLink)").add_subparsers(
        dest="ilink_command", required=True
    )
    p = ilink.add_parser("login", help="log in by QR code shown in the terminal")
    p.add_argument("--base-url", default="")
    p.add_argument("--wait", type=float, default=480.0, help="seconds to wait")
    p.set_defaults(func=bind(ilink_login))
