"""``freechat check`` prints the settings without their secrets, and log lines lose
tokens in URLs (issue 11, F9)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from bot.redact import MASK, redact_line

SECRETS = {
    "qq": "qq-access-token-1a2b",
    "mp_secret": "mp-app-secret-3c4d",
    "mp_token": "mp-callback-token-5e6f",
    "aes": "A" * 42 + "Q",
    "wecom": "wecom-corp-secret-7a8b",
    "llm": "sk-llm-key-9c0d",
    "jwt": "jwt-signing-secret-1e2f",
    "pg": "pg-password-3a4b",
}


def test_check_prints_no_secret(tmp_path: Path) -> None:
    config = {
        "data_dir": str(tmp_path / "data"),
        "database": {"url": f"postgres://freechat:{SECRETS['pg']}@db:5432/freechat"},
        "llm": {"api_key": SECRETS["llm"], "max_tokens": 300},
        "auth": {"jwt_secret": SECRETS["jwt"]},
        "adapters": {
            "qq": {"access_token": SECRETS["qq"]},
            "mp": {
                "accounts": [
                    {
                        "name": "main",
                        "app_id": "wx-app-id",
                        "app_secret": SECRETS["mp_secret"],
                        "token": SECRETS["mp_token"],
                        "encoding_aes_key": SECRETS["aes"],
                    }
                ]
            },
            "wecom": {"apps": [{"name": "w", "secret": SECRETS["wecom"]}]},
        },
    }
    path = tmp_path / "freechat.yml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for name, value in SECRETS.items():
        assert value not in out, name
    shown = json.loads(out)
    # what is not secret is still shown, so the command stays useful
    assert shown["llm"]["max_tokens"] == 300
    assert shown["adapters"]["mp"]["accounts"][0]["app_id"] == "wx-app-id"
    assert shown["adapters"]["qq"]["access_token"] == MASK
    assert shown["database"]["url"] == f"postgres://freechat:{MASK}@db:5432/freechat"


def test_log_lines_lose_tokens_in_urls() -> None:
    line = '127.0.0.1:5 - "WebSocket /onebot/v11/ws?access_token=abc123&x=1" 403'
    assert redact_line(line) == line.replace("abc123", MASK)
    assert "s3cret" not in redact_line("redis://:s3cret@host:6379/0")
    setup = "open http://h:8080/#/setup?token=keepme"  # printed on purpose
    assert redact_line(setup) == setup
