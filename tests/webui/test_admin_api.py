"""The admin API of a running FreeChat: roles on every route (listed from its own
OpenAPI document), the audit log of every change, and the resources' behaviour."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery"
PLUGINS = {
    "chat": {},
    "admin": {},
    "history": {},
    "sensitive_words": {},
    "keywords": {},
    "token_budget": {"user_daily": 1000},
}
#: resources only the admin role may use (bot.auth.roles)
ADMIN_ONLY = ("/api/admin/users", "/api/admin/api-keys", "/api/admin/audit",
              "/api/admin/logs", "/api/admin/adapters/ilink", "/api/admin/plugins")  # fmt: skip
SAMPLES = {
    "name": "nobody",
    "key": "qq:1",
    "kind": "user",
    "user_key": "qq:1",
    "key_id": "1",
    "rule_id": "1",
    "word_id": "1",
}


async def sign_in(base_url: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, timeout=30)
    r = await client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = client.cookies["freechat_csrf"]
    return client


@pytest.fixture
async def console(bot_process):
    bp = await bot_process({"plugins": PLUGINS, "auth": {"login_attempts": 100}})
    for name, role in (("root", "admin"), ("oper", "operator"), ("joe", "user")):
        bp.cli("user", "add", name, "--role", role, input=PASSWORD + "\n")
    clients = {n: await sign_in(bp.base_url, n) for n in ("root", "oper", "joe")}
    yield bp, clients
    for c in clients.values():
        await c.aclose()


def _routes(doc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for path, methods in doc["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], path)
        out.extend((method.upper(), concrete) for method in methods)
    return out


async def test_every_route_is_guarded_by_role(console) -> None:
    bp, c = console
    docs = await c["root"].get("/api/admin/openapi.json")
    assert docs.status_code == 200
    doc = docs.json()
    routes = _routes(doc)
    assert len(routes) >= 30, routes
    tags = {t for m in doc["paths"].values() for op in m.values() for t in op["tags"]}
    assert tags >= {"overview", "adapters", "users", "api-keys", "groups", "bans",
                    "sensitive-words", "keywords", "budgets", "personas",
                    "providers", "audit", "logs", "plugins"}  # fmt: skip
    for extra in ("/api/admin/openapi.json", "/api/admin/docs",
                  "/api/admin/docs/assets/swagger-ui-bundle.js"):  # fmt: skip
        routes.append(("GET", extra))
    async with httpx.AsyncClient(base_url=bp.base_url) as anon:
        for method, path in routes:
            r = await anon.request(method, path)
            assert r.status_code == 401, (method, path, r.status_code)
            r = await c["joe"].request(method, path)
            assert r.status_code == 403, (method, path, r.status_code)
            r = await c["oper"].request(method, path)
            admin_only = path.startswith(ADMIN_ONLY) or path in (
                "/api/admin/openapi.json",
                "/api/admin/docs",
                "/api/admin/docs/assets/swagger-ui-bundle.js",
            )
            if admin_only:
                assert r.status_code == 403, (method, path, r.status_code)
            else:
                assert r.status_code != 403, (method, path, r.status_code, r.text)
    # the operator's reads work
    assert (await c["oper"].get("/api/admin/groups")).status_code == 200
    assert (await c["oper"].get("/api/admin/keywords")).status_code == 200


async def test_swagger_ui_is_served_offline(console) -> None:
    _bp, c = console
    page = await c["root"].get("/api/admin/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "http://" not in page.text
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        r = await c["root"].get(asset)
        assert r.status_code == 200, asset
        assert len(r.content) > 1000
    r = await c["root"].get("/api/admin/docs/assets/..%2F..%2Fsecret.key")
    assert r.status_code == 404


async def _audit(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get("/api/admin/audit", params={"limit": 500})
    assert r.status_code == 200
    return r.json()["items"]


async def test_every_change_is_audited(console) -> None:
    _bp, c = console
    root = c["root"]
    changes = [
        ("POST", "/api/admin/users", {"name": "amy", "password": PASSWORD}, "user.create"),
        ("PATCH", "/api/admin/users/amy", {"role": "operator"}, "user.update"),
        ("DELETE", "/api/admin/users/amy", None, "user.delete"),
        ("POST", "/api/admin/bans", {"user_key": "qq:9", "reason": "spam"}, "ban"),
        ("DELETE", "/api/admin/bans/qq:9", None, "unban"),
        ("PATCH", "/api/admin/groups/qq:55",
         {"settings": {"wake": "all"}, "budget": {"daily": 5}}, "group.update"),
        ("PUT", "/api/admin/personas/cat", {"name": "cat", "prompt": "Meow."},
         "persona.save"),
        ("DELETE", "/api/admin/personas/cat", None, "persona.delete"),
        ("POST", "/api/admin/sensitive-words", {"word": "badword"}, "word.add"),
        ("POST", "/api/admin/sensitive-words/import",
         {"category": "spam", "words": ["aa1", "bb2"]}, "word.import"),
        ("POST", "/api/admin/keywords", {"pattern": "ping", "reply": "pong"},
         "keyword.add"),
        ("PUT", "/api/admin/budgets/user/qq:7", {"daily": 10, "monthly": 100},
         "budget.set"),
        ("DELETE", "/api/admin/budgets/user/qq:7", None, "budget.delete"),
    ]  # fmt: skip
    for method, path, body, action in changes:
        r = await root.request(method, path, json=body)
        assert r.status_code in (200, 201, 204), (path, r.status_code, r.text)
        rows = await _audit(root)
        assert rows[0]["action"] == action, (path, rows[0])
        assert rows[0]["actor"] == "web:root"
    rule_id = (await root.get("/api/admin/keywords")).json()["items"][0]["id"]
    r = await root.patch(f"/api/admin/keywords/{rule_id}", json={"reply": "PONG"})
    assert r.status_code == 200
    row = (await _audit(root))[0]
    assert row["action"] == "keyword.update"
    assert json.loads(row["before"])["reply"] == "pong"
    assert json.loads(row["after"])["reply"] == "PONG"
    r = await root.delete(f"/api/admin/keywords/{rule_id}")
    assert r.status_code == 204
    assert (await _audit(root))[0]["action"] == "keyword.del"
    word_id = (await root.get("/api/admin/sensitive-words")).json()["items"][0]["id"]
    assert (
        await root.delete(f"/api/admin/sensitive-words/{word_id}")
    ).status_code == 204
    assert (await _audit(root))[0]["action"] == "word.del"
    # an operator's changes are audited under their name; a refused one is not
    n = len(await _audit(root))
    r = await c["oper"].post("/api/admin/keywords", json={"pattern": "a", "reply": "b"})
    assert r.status_code == 201
    r = await c["oper"].post(
        "/api/admin/users", json={"name": "x", "password": PASSWORD}
    )
    assert r.status_code == 403
    rows = await _audit(root)
    assert len(rows) == n + 1
    assert rows[0]["actor"] == "web:oper"
    # writes need the CSRF header
    bare = httpx.AsyncClient(base_url=root.base_url, cookies=root.cookies)
    async with bare:
        r = await bare.post("/api/admin/keywords", json={"pattern": "q", "reply": "r"})
        assert r.status_code == 403
    assert len(await _audit(root)) == n + 1


async def test_resources(console) -> None:
    _bp, c = console
    root = c["root"]
    # the "test this text" box uses the running filter, after normalisation
    await root.post(
        "/api/admin/sensitive-words", json={"word": "坏蛋", "category": "x"}
    )
    r = await root.post(
        "/api/admin/sensitive-words/test", json={"text": "你这个壞\u200b蛋"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["hits"], body
    assert body["hits"][0]["word"] == "坏蛋"
    assert body["action"] == "mask"
    assert "坏蛋" not in body["result"]
    exported = (await root.get("/api/admin/sensitive-words/export")).json()
    assert exported == {"x": ["坏蛋"]}
    # regex rules are checked before they are stored
    r = await root.post(
        "/api/admin/keywords",
        json={"match": "regex", "pattern": "(a+)+$", "reply": "x"},
    )
    assert r.status_code == 422
    # group settings are validated
    r = await root.patch("/api/admin/groups/qq:1", json={"settings": {"wake": "loud"}})
    assert r.status_code == 422
    r = await root.patch(
        "/api/admin/groups/qq:1",
        json={
            "settings": {"wake": "random", "probability": 0.5},
            "plugins": {"chat": False},
        },
    )
    assert r.status_code == 200
    group = r.json()
    assert group["settings"]["wake"] == "random"
    assert group["plugins"] == {"chat": False}
    listed = (await root.get("/api/admin/groups", params={"q": "qq:1"})).json()
    assert [g["key"] for g in listed["items"]] == ["qq:1"]
    # users: no self-demotion, paging, lone surrogates and huge bodies refused
    r = await root.patch("/api/admin/users/root", json={"role": "user"})
    assert r.status_code == 409
    page = (await root.get("/api/admin/users", params={"limit": 2})).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    r = await root.post(
        "/api/admin/keywords",
        content=b'{"pattern": "\\ud800", "reply": "x"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    r = await root.post(
        "/api/admin/keywords", json={"pattern": "p" * 10_000, "reply": "x"}
    )
    assert r.status_code == 422
    r = await root.post(
        "/api/admin/sensitive-words/import", json={"words": ["w" * 192]}
    )
    assert r.status_code == 422
    deep: Any = "x"
    for _ in range(500):
        deep = [deep]
    r = await root.patch("/api/admin/groups/qq:1", json={"settings": {"names": deep}})
    assert r.status_code == 422
    # the overview, logs, providers and adapters answer
    ov = (await root.get("/api/admin/overview")).json()
    assert len(ov["per_hour"]) == 24
    assert ov["instance"] in ov["instances_online"]
    logs = (await root.get("/api/admin/logs", params={"lines": 50})).json()["lines"]
    assert logs
    assert any("FreeChat" in line for line in logs)
    providers = (await root.get("/api/admin/providers")).json()
    assert providers
    assert providers[0]["circuit"] == "closed"
    assert (await root.get("/api/admin/adapters")).status_code == 200
    budgets = (await root.get("/api/admin/budgets")).json()
    assert budgets["defaults"]["user_daily"] == 1000
