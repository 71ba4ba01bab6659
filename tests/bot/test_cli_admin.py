"""``freechat user ...``, ``freechat group ...`` and ``freechat ilink login`` as a
user runs them: subprocesses over a settings file, with the fake iLink server on
loopback for the QR login."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.adapters.ilink.fake_ilink import TOKEN, FakeILink

PASSWORD = "a long password"


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "freechat.yml"
    data = tmp_path / "data"
    path.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "database": {"url": f"sqlite://{data}/fc.db"},
                "inference": {"enabled": False},
            }
        )
    )
    return path


async def cli(config: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREECHAT")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=config.parent,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_users(settings_file: Path) -> None:
    for name, role in (("ann", "admin"), ("bob", "operator"), ("cy", "user")):
        rc, out, err = await cli(
            settings_file, "user", "add", name, "--role", role, stdin=PASSWORD + "\n"
        )
        assert rc == 0, err
    rc, out, _ = await cli(settings_file, "user", "list")
    assert out.splitlines() == ["ann\tadmin", "bob\toperator", "cy\tuser"]
    assert (await cli(settings_file, "user", "disable", "cy"))[0] == 0
    assert (await cli(settings_file, "user", "role", "bob", "admin"))[0] == 0
    rc, out, _ = await cli(settings_file, "user", "list")
    assert out.splitlines() == ["ann\tadmin", "bob\tadmin", "cy\tuser (disabled)"]
    rc, _, err = await cli(settings_file, "user", "passwd", "ann", stdin="short\n")
    assert rc == 1
    assert "at least 8" in err
    rc, _, err = await cli(
        settings_file, "user", "passwd", "ann", stdin="another long one\n"
    )
    assert rc == 0, err
    assert (await cli(settings_file, "user", "delete", "cy"))[0] == 0
    rc, _, err = await cli(settings_file, "user", "delete", "cy")
    assert rc == 1
    assert "no user named cy" in err
    # every change is in the audit log, without the password
    from bot import store
    from bot.store.models import AuditLog, User

    await store.init_store(f"sqlite://{settings_file.parent}/data/fc.db")
    try:
        rows = (
            await AuditLog.all().order_by("id").values_list("actor", "action", "after")
        )
        assert [a for _, a, _ in rows] == [
            "user.update", "user.update", "user.update", "user.delete",
        ]  # fmt: skip
        assert {actor for actor, _, _ in rows} == {"cli"}
        assert "another long one" not in json.dumps(rows)
        ann = await User.get(name="ann")
        from bot.auth import verify_password

        assert verify_password(ann.password_hash, "another long one")
    finally:
        await store.close_store()


async def test_groups(settings_file: Path) -> None:
    rc, out, err = await cli(
        settings_file, "group", "set", "qq:42", "wake=prefix",
        'prefixes=["bot", "机器人"]', "model=cat-model",
    )  # fmt: skip
    assert rc == 0, err
    assert json.loads(out)["prefixes"] == ["bot", "机器人"]
    rc, _, err = await cli(settings_file, "group", "set", "qq:42", "wake=shout")
    assert rc == 1
    assert "wake" in err
    rc, _, err = await cli(settings_file, "group", "set", "qq:42", "colour=red")
    assert rc == 1
    rc, out, _ = await cli(settings_file, "group", "list")
    key, _name, data = out.strip().split("\t")
    assert key == "qq:42"
    assert json.loads(data)["wake"] == "prefix"
    assert json.loads(data)["model"] == "cat-model"


async def test_ilink_login(settings_file: Path) -> None:
    fake = await FakeILink().start()
    try:
        rc, out, err = await cli(
            settings_file, "ilink", "login", "--base-url", fake.base_url, "--wait", "30"
        )
    finally:
        await fake.stop()
    assert rc == 0, err
    assert "https://liteapp.weixin.qq.com/q/qr-123" in out
    assert any(ch in out for ch in "█▀▄")  # the QR code in the terminal
    assert "login confirmed" in out
    from adapters.ilink import store as kv
    from bot import store
    from bot.settings import load_settings

    await store.init_store(f"sqlite://{settings_file.parent}/data/fc.db")
    try:
        stored = await kv.get_value(kv.TOKEN_KEY)
        assert stored is not None
        assert TOKEN not in stored  # sealed with the instance's secret
        settings = load_settings(settings_file)
        assert await kv.get_token(settings) == TOKEN
    finally:
        await store.close_store()
