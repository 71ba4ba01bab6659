"""Settings: file, environment overrides, and one-line errors naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.exceptions import ConfigError
from bot.settings import load_settings


def test_defaults_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FREECHAT_CONFIG", raising=False)
    s = load_settings()
    assert s.server.port == 8080
    assert s.database.url.startswith("sqlite://")
    assert s.state.url == "memory://"
    assert "chat" in s.plugins
    assert "web" in s.adapters


def test_file_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "f.yml"
    cfg.write_text(
        "server:\n  port: 9000\nplugins:\n  chat: {}\n  history: {max_turns: 3}\n"
    )
    monkeypatch.setenv("FREECHAT__SERVER__HOST", "0.0.0.0")
    monkeypatch.setenv("FREECHAT__PLUGINS__HISTORY__GROUP_MODE", "per_user")
    s = load_settings(cfg)
    assert s.server.port == 9000
    assert s.server.host == "0.0.0.0"
    assert s.plugins["history"] == {"max_turns": 3, "group_mode": "per_user"}
    assert s.nonebot_config()["history_max_turns"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("server:\n  port: 99999\n", "server.port"),
        ("database:\n  url: mysql://x\n", "database.url"),
        ("state:\n  url: mongodb://x\n", "state.url"),
        ("nonsense_key: 1\n", "nonsense_key"),
        ("server: [1, 2\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, content: str, message: str) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(cfg)
    assert "\n" not in str(info.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yml")


def test_cli_stops_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text("server:\n  port: -1\n")
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "server.port" in lines[0]


def test_nonebot_section_reaches_nonebot_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "f.yml"
    cfg.write_text(
        "superusers: ['qq:20002', '30003']\n"
        "nonebot:\n  command_start: ['/', '!']\n  nickname: [bot]\n"
        "  repeater_group: ['1']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FREECHAT__NONEBOT__SHORTEST_TIMES", "3")
    monkeypatch.setenv("FREECHAT__NONEBOT__REPEATER_GROUP", '["all"]')
    monkeypatch.setenv("FREECHAT__NONEBOT__STATUS_TEMPLATE", "not [json")
    flat = load_settings(cfg).nonebot_config()
    assert flat["command_start"] == ["/", "!"]
    assert flat["nickname"] == ["bot"]
    assert flat["repeater_group"] == ["all"]
    assert flat["shortest_times"] == 3
    assert flat["status_template"] == "not [json"
    # NoneBot's SUPERUSER and plugins compare bare ids; FreeChat keeps its keys
    assert flat["superusers"] == {"20002", "30003"}
    assert flat["freechat_superusers"] == {"qq:20002", "30003"}
