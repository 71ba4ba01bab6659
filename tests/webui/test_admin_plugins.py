"""The admin API's plugins resource in a running FreeChat: the list of loaded
plugins, switches that the access guard enforces at once, the group page's plugin
field as the same switches, refused installs (a URL, an unpinned name, a conflict
with FreeChat's pins in pip's dry run against a loopback index) that change
nothing, audit rows."""

from __future__ import annotations

import importlib.util
from typing import Any

import httpx
import pytest

from tests.adapters.qq.napcat import NapCat, text_of
from tests.plugins.plugin_manager.pm_index import build_wheel, simple_index
from tests.webui.test_admin_api import PASSWORD, sign_in

TOKEN = "plugins-token"


@pytest.fixture
async def console(bot_process: Any, openai_stub: Any):
    bp = await bot_process(
        {
            "adapters": {"qq": {"access_token": TOKEN, "min_interval": 0}},
            "extra_plugins": ["tests.adapters.qq.side_plugin"],
            "plugins": {
                "chat": {},
                "admin": {},
                "plugin_manager": {},
                "rate_limit": {"user": 100, "group": 0},
            },
            "auth": {"login_attempts": 100},
        }
    )
    bp.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
    root = await sign_in(bp.base_url, "root")
    yield bp, root
    await root.aclose()


async def _audit(root: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    r = await root.get("/api/admin/audit", params={"limit": 500})
    assert r.status_code == 200
    return [row for row in r.json()["items"] if row["action"] == action]


async def _raw(
    client: httpx.AsyncClient, method: str, path: str, body: bytes
) -> httpx.Response:
    """A JSON body as bytes (a lone surrogate that httpx would not encode)."""
    headers = {"content-type": "application/json"}
    return await client.request(method, path, content=body, headers=headers)


def _item(listing: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in listing["items"] if i["name"] == name)


async def test_list_and_switches_take_effect(console) -> None:
    bp, root = console
    listing = (await root.get("/api/admin/plugins")).json()
    names = {i["name"]: i for i in listing["items"]}
    for builtin in ("chat", "admin", "plugin_manager", "rate_limit"):
        assert names[builtin]["kind"] == "builtin", names[builtin]
        assert names[builtin]["module"] == f"plugins.{builtin}"
        assert names[builtin]["enabled"] is True
        assert names[builtin]["version"]
    assert names["plugin_manager"]["description"].startswith("Install")
    side = names["side_plugin"]
    assert side["kind"] == "community"
    assert side["managed"] is False
    assert side["groups"] == {}
    assert listing["pending"] == []

    # off for one group: that group's /roll is not answered, another group's is
    r = await root.put(
        "/api/admin/plugins/side_plugin/switch",
        json={"scope": "qq:60001", "enabled": False},
    )
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == {"qq:60001": False}
    url = f"ws://127.0.0.1:{bp.port}/onebot/v11/ws"
    peer = await NapCat(url, 10001, TOKEN).connect()
    try:
        await peer.send_event(peer.group_message("/roll", group_id=60001, user_id=1))
        await peer.send_event(peer.group_message("/roll", group_id=60002, user_id=2))
        first = await peer.wait_sends(1)
        # back on for the group: answered there again
        r = await root.put(
            "/api/admin/plugins/side_plugin/switch",
            json={"scope": "qq:60001", "enabled": True},
        )
        assert r.status_code == 200
        await peer.send_event(peer.group_message("/roll", group_id=60001, user_id=3))
        sends = await peer.wait_sends(2)
    finally:
        await peer.close()
    assert [s["params"]["group_id"] for s in first] == [60002]
    assert [s["params"]["group_id"] for s in sends] == [60002, 60001]
    assert [text_of(s) for s in sends] == ["rolled 4", "rolled 4"]

    # the switches listed, and audited with who, before and after
    r = await root.put(
        "/api/admin/plugins/side_plugin/switch",
        json={"scope": "global", "enabled": False},
    )
    side = _item((await root.get("/api/admin/plugins")).json(), "side_plugin")
    assert side["enabled"] is False
    assert side["groups"] == {"qq:60001": True}
    rows = await _audit(root, "plugin.switch")
    assert len(rows) == 3
    assert {r["actor"] for r in rows} == {"web:root"}
    assert {r["target"] for r in rows} == {"plugin:side_plugin"}
    assert any('"enabled": false' in r["before"] for r in rows)

    # unknown plugins, bad scopes
    r = await root.put(
        "/api/admin/plugins/nosuch/switch", json={"scope": "global", "enabled": False}
    )
    assert r.status_code == 404
    r = await root.put(
        "/api/admin/plugins/chat/switch", json={"scope": "nowhere", "enabled": False}
    )
    assert r.status_code == 422
    r = await _raw(
        root, "PUT", "/api/admin/plugins/chat/switch",
        b'{"scope": "qq:\\ud800", "enabled": false}',
    )  # fmt: skip
    assert r.status_code in (400, 422)


async def test_group_plugins_are_the_plugin_managers_switches(console) -> None:
    _bp, root = console
    # the group page writes the plugin manager's switch ...
    r = await root.patch(
        "/api/admin/groups/qq:70001", json={"plugins": {"side_plugin": False}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["plugins"] == {"side_plugin": False}
    side = _item((await root.get("/api/admin/plugins")).json(), "side_plugin")
    assert side["groups"] == {"qq:70001": False}
    # ... and shows what the plugins page (or /plugin disable) set
    r = await root.put(
        "/api/admin/plugins/chat/switch", json={"scope": "qq:70001", "enabled": False}
    )
    assert r.status_code == 200
    group = (await root.get("/api/admin/groups/qq:70001")).json()
    assert group["plugins"] == {"side_plugin": False, "chat": False}
    # a plugin that is not loaded is refused, and nothing of the patch is written
    r = await root.patch(
        "/api/admin/groups/qq:70001",
        json={"name": "renamed", "plugins": {"nosuch": False}},
    )
    assert r.status_code == 400
    assert "nosuch" in r.json()["detail"]
    group = (await root.get("/api/admin/groups/qq:70001")).json()
    assert group["name"] != "renamed"
    assert "nosuch" not in group["plugins"]


async def test_refused_installs_change_nothing(console) -> None:
    _bp, root = console
    for spec, reason in (
        ("https://example.invalid/evil-1.0.whl", "only PyPI names"),
        ("git+https://example.invalid/evil.git", "only PyPI names"),
        ("nonebot-plugin-x @ https://example.invalid/x.zip", "only PyPI names"),
        ("./evil", "only PyPI names"),
        ("nonebot-plugin-x", "pin one version"),
        ("nonebot-plugin-x>=1.0", "pin one version"),
    ):
        r = await root.post("/api/admin/plugins", json={"spec": spec})
        assert r.status_code == 400, (spec, r.text)
        assert reason in r.json()["detail"], (spec, r.text)
    r = await root.post("/api/admin/plugins", json={"spec": "x" * 5000})
    assert r.status_code == 422
    r = await _raw(root, "POST", "/api/admin/plugins", b'{"spec": "a\\ud800==1"}')
    assert r.status_code in (400, 422)
    r = await root.delete("/api/admin/plugins/nonebot-plugin-x")
    assert r.status_code == 404
    assert "not installed" in r.json()["detail"]
    listing = (await root.get("/api/admin/plugins")).json()
    assert listing["pending"] == []
    assert not any(i["managed"] for i in listing["items"])
    assert await _audit(root, "plugin.install") == []
    assert await _audit(root, "plugin.remove") == []


async def test_an_install_against_freechats_pins_is_a_409_with_the_reason(
    bot_process: Any, tmp_path: Any
) -> None:
    # its requirement conflicts with FreeChat's pinned pydantic: pip's dry run
    # refuses it, so nothing is installed, even in this loopback-only index
    wheel = build_wheel(
        tmp_path, "fc-conflict", "1.0", {"fc_conflict/__init__.py": ""},
        ["pydantic==1.10.0"],
    )  # fmt: skip
    with simple_index([wheel]) as index:
        bp = await bot_process(
            {
                "plugins": {"chat": {}, "plugin_manager": {"index_url": index}},
                "auth": {"login_attempts": 100},
            }
        )
        bp.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
        root = await sign_in(bp.base_url, "root")
        try:
            r = await root.post("/api/admin/plugins", json={"spec": "fc-conflict==1.0"})
            assert r.status_code == 409, r.text
            assert "fc-conflict==1.0 was not installed" in r.json()["detail"]
            assert "pydantic" in r.json()["detail"]
            listing = (await root.get("/api/admin/plugins")).json()
            assert listing["pending"] == []
            assert await _audit(root, "plugin.install") == []
        finally:
            await root.aclose()
    importlib.invalidate_caches()
    assert importlib.util.find_spec("fc_conflict") is None
