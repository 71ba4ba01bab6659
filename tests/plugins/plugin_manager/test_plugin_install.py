"""``freechat plugin install|remove|list`` against a PEP 503 index on loopback,
in a throwaway environment layered over this one (nothing is installed here):
a plugin installs and is remembered in the database, one whose requirement
conflicts with FreeChat's pins is refused with the conflict named and nothing
changed, URLs and unpinned names are refused, and what the database lists is
installed again at start."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pm_index import build_wheel, simple_index

ROOT = Path(__file__).resolve().parents[3]

HELLO = """
from nonebot import on_command

hello = on_command("fc_hello")


@hello.handle()
async def _() -> None:
    await hello.finish("hello from a plugin")
"""


class Env:
    """A virtual environment whose site-packages lie over this one's."""

    def __init__(self, tmp: Path, index: str) -> None:
        self.dir = tmp / "venv"
        venv.EnvBuilder(with_pip=False).create(self.dir)
        self.python = str(self.dir / "bin" / "python")
        purelib = subprocess.run(
            [
                self.python,
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        layers = [p for p in sys.path if p.endswith("site-packages")]
        layers += [*site.getsitepackages(), str(ROOT)]
        Path(purelib, "_layers.pth").write_text("\n".join(dict.fromkeys(layers)) + "\n")
        self.purelib = Path(purelib)
        self.config = tmp / "freechat.yml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "data_dir": str(tmp / "data"),
                    "database": {"url": f"sqlite://{tmp}/fc.db"},
                    "plugins": {
                        "plugin_manager": {
                            "index_url": index,
                            "store_url": index.replace("/simple/", "/store.json"),
                        }
                    },
                }
            )
        )
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "FREECHAT"))
        }
        self.env |= {
            "PIP_CONFIG_FILE": os.devnull,  # only the test's index
            "PIP_CACHE_DIR": str(tmp / "pip-cache"),
            "PIP_NO_INPUT": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.dir.parent,
            timeout=600,
        )

    def freechat(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "bot.cli", "--config", str(self.config), *args)

    def installed_here(self) -> set[str]:
        """Distributions installed in this environment's own site-packages."""
        return {p.name for p in self.purelib.glob("*.dist-info")}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [
        build_wheel(
            wheels,
            "fc-hello",
            "1.0",
            {"fc_hello/__init__.py": HELLO},
            ["nonebot2>=2.5"],
        ),
        build_wheel(
            wheels,
            "fc-conflict",
            "1.0",
            {"fc_conflict/__init__.py": ""},
            ["pydantic==1.10.0"],
        ),
    ]
    store = json.dumps(
        [
            {
                "module_name": "fc_hello",
                "project_link": "fc-hello",
                "name": "Hello",
                "desc": "says hello",
                "version": "1.0",
            },
            {"module_name": "other", "project_link": "other", "version": "2.0"},
        ]
    ).encode()
    with simple_index(built, store) as index:
        yield Env(tmp_path, index)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_install_refuse_remove_and_reinstall_at_start(env: Env) -> None:
    found = ok(env.freechat("plugin", "search", "hello"))
    assert found.splitlines() == ["fc-hello==1.0  says hello"]
    out = ok(env.freechat("plugin", "install", "fc-hello==1.0"))
    assert "installed fc-hello==1.0 (module fc_hello)" in out
    assert "fc_hello-1.0.dist-info" in env.installed_here()
    assert "fc_hello" in ok(
        env.run("-c", "import importlib.util as u; print(u.find_spec('fc_hello').name)")
    )
    assert "fc-hello==1.0  (module fc_hello)" in ok(env.freechat("plugin", "list"))

    # a requirement against FreeChat's pins: refused, the conflict named
    before = env.installed_here()
    refused = env.freechat("plugin", "install", "fc-conflict==1.0")
    assert refused.returncode == 1
    assert "fc-conflict==1.0 was not installed" in refused.stderr
    assert "pydantic" in refused.stderr
    assert env.installed_here() == before

    # never a URL, a path or an unpinned name
    for spec, reason in (
        ("https://example.invalid/x-1.0-py3-none-any.whl", "only PyPI names"),
        ("./wheels/fc_hello-1.0-py3-none-any.whl", "only PyPI names"),
        ("git+https://example.invalid/x.git", "only PyPI names"),
        ("fc-hello", "pin one version"),
        ("fc-hello>=1.0", "pin one version"),
    ):
        result = env.freechat("plugin", "install", spec)
        assert result.returncode == 1, spec
        assert reason in result.stderr, (spec, result.stderr)
    assert env.installed_here() == before

    # the database remembers it: an environment without it installs it at start
    ok(env.run("-m", "pip", "uninstall", "-y", "fc-hello"))
    assert "fc_hello-1.0.dist-info" not in env.installed_here()
    script = (
        "from bot.plugin_cli import installed_modules;"
        "from bot.settings import load_settings;"
        f"print(installed_modules(load_settings({str(env.config)!r})))"
    )
    assert ok(env.run("-c", script)).strip() == "['fc_hello']"
    assert "fc_hello-1.0.dist-info" in env.installed_here()

    # removal by module name works too
    assert "removed fc-hello" in ok(env.freechat("plugin", "remove", "fc_hello"))
    assert "fc_hello-1.0.dist-info" not in env.installed_here()
    assert "fc-hello" not in ok(env.freechat("plugin", "list"))


def test_specs_without_a_pin_or_with_a_url_are_refused() -> None:
    from bot.plugin_store import PluginError, parse_spec

    assert str(parse_spec("nonebot-plugin-status==0.9.0")) == (
        "nonebot-plugin-status==0.9.0"
    )
    for spec in ("", "x==1 ; python_version<'4'", "x[extra]==1", "x==1.*", "\udcff"):
        with pytest.raises(PluginError):
            parse_spec(spec)
    url: Any = parse_spec("x @ https://example.invalid/x.whl", allow_urls=True)
    assert url.url == "https://example.invalid/x.whl"
