"""The ``freechat`` command line.

``freechat run`` starts everything; ``freechat inference`` the inference service alone;
``freechat user add|list|disable|delete|passwd|role``, ``freechat group list|set``,
``freechat ilink login``, ``freechat token create``, ``freechat migrate``,
``freechat check`` manage an installation.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.exceptions import ConfigError, FreeChatError
from bot.settings import Settings, load_settings

FRONTEND = Path(__file__).resolve().parent.parent / "webui" / "frontend"
STATIC = Path(__file__).resolve().parent.parent / "webui" / "static"


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def ensure_frontend() -> None:
    """Build the web UI if its static files are missing (needs Node.js and npm)."""
    if (STATIC / "index.html").exists() or not (FRONTEND / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        _step("The web UI is not built and npm is missing: the API runs without it.")
        return
    _step("Building the web UI (first start only) ...")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)
    _step("Web UI built.")


def _with_store(settings: Settings, fn: Callable[[], Awaitable[Any]]) -> Any:
    from bot import store

    async def main() -> Any:
        await store.init_store(settings.database.url)
        try:
            return await fn()
        finally:
            await store.close_store()

    return asyncio.run(main())


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise FreeChatError("the passwords do not match")
    return password


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run
    from bot.plugin_cli import installed_modules, pid_file

    if not args.no_ui_build:
        ensure_frontend()
    for module in installed_modules(settings):
        if module not in settings.extra_plugins:
            settings.extra_plugins.append(module)
    _step(f"Starting FreeChat on http://{settings.server.host}:{settings.server.port}/")
    pid = pid_file(settings)
    pid.parent.mkdir(parents=True, exist_ok=True)
    pid.write_text(str(os.getpid()))
    try:
        restart = run(settings)
    finally:
        pid.unlink(missing_ok=True)
    if restart:  # a graceful restart: the same command in a fresh interpreter
        _step("Restarting ...")
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.auth import create_user

    password = _read_password(args.password_stdin)

    async def go() -> None:
        await create_user(args.name, password, is_admin=args.admin, role=args.role)

    _with_store(settings, go)
    role = args.role or ("admin" if args.admin else "")
    print(f"user {args.name} created{f' ({role})' if role else ''}")
    return 0


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from bot.auth import create_api_token

    async def go() -> str:
        return await create_api_token(args.user, name=args.name)

    print(_with_store(settings, go))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot import store

    asyncio.run(store.migrate(settings.database.url))
    print("database is up to date")
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.redact import redact_settings

    dump = redact_settings(settings.model_dump(mode="json"))
    print(json.dumps(dump, indent=2, ensure_ascii=False))
    return 0


#: ``freechat <name> ...`` handed whole to ``<module>.cli.main(argv, settings)``,
#: after the plugin is loaded the way the bot loads it (on a driver serving nothing)
PLUGIN_COMMANDS = {
    "schedule": ("plugins.scheduler", "scheduled messages (see: freechat schedule -h)"),
}


def run_plugin_command(argv: list[str]) -> int:
    """``[--config PATH] <name> ...`` of :data:`PLUGIN_COMMANDS`; raises like the
    other commands."""
    config = None
    if argv[:1] == ["--config"] and len(argv) > 1:
        config, argv = argv[1], argv[2:]
    plugin = PLUGIN_COMMANDS[argv[0]][0]
    settings = load_settings(config)
    import nonebot
    from nonebot.log import logger

    # stdout is the command's answer: NoneBot's own log goes to stderr, errors only
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    nonebot.init(
        _env_file=(), driver="~none", log_level="ERROR", **settings.nonebot_config()
    )
    if nonebot.load_plugin(plugin) is None:
        raise FreeChatError(f"{plugin} could not be loaded (see the log)")
    module = importlib.import_module(f"{plugin}.cli")
    result: int = module.main(argv[1:], settings)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freechat", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", help="settings file (default config/freechat.yml)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot, web UI and (by default) inference")
    run.add_argument("--no-ui-build", action="store_true", help="never build the UI")
    run.set_defaults(func=cmd_run)

    sub.add_parser(
        "inference", help="the inference service (see: freechat inference -h)"
    )
    for name, (_module, text) in PLUGIN_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)

    user = sub.add_parser("user", help="manage web users").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="add a user (password from a prompt or stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--role", choices=["admin", "operator", "user"])
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_user_add)

    from bot.cli_admin import add_parsers

    add_parsers(sub, user, _with_store, _read_password)

    token = sub.add_parser("token", help="manage API keys").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create an API key for a user")
    create.add_argument("--user", required=True)
    create.add_argument("--name", default="")
    create.set_defaults(func=cmd_token_create)

    from bot.plugin_cli import add_parser as add_plugin_parser

    add_plugin_parser(sub)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("check", help="validate and print the settings").set_defaults(
        func=cmd_check
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # ``freechat inference ...`` is handed to the inference package whole
    if "inference" in argv[:3]:
        idx = argv.index("inference")
        from inference.cli import main as inference_main

        return inference_main(argv[idx + 1 :])
    rest = argv[2:] if argv[:1] == ["--config"] else argv
    plugin_command = bool(rest) and rest[0] in PLUGIN_COMMANDS
    args = None if plugin_command else build_parser().parse_args(argv)
    try:
        if args is None:
            return run_plugin_command(argv)
        settings = load_settings(args.config)
        if args.config:
            os.environ["FREECHAT_CONFIG"] = args.config
        result: int = args.func(args, settings)
        return result
    except ConfigError as exc:
        print(f"freechat: configuration error: {exc}", file=sys.stderr)
        return 2
    except FreeChatError as exc:
        print(f"freechat: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
