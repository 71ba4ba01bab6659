"""Sign-in security of a running FreeChat: no default password, rate limits, JWT
handling, CSRF, and other users' data."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import jwt
import pytest

PASSWORD = "correct horse battery"


@pytest.fixture
async def bot(bot_process):
    bp = await bot_process({"plugins": {"chat": {}, "history": {}}})
    bp.cli("user", "add", "alice", input=PASSWORD + "\n")
    bp.cli("user", "add", "mallory", input=PASSWORD + "\n")
    return bp


async def login(client: httpx.AsyncClient, name: str = "alice") -> httpx.Response:
    return await client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )


async def test_no_default_password_and_one_time_setup(bot_process) -> None:
    bp = await bot_process({"plugins": {"chat": {}}, "auth": {"login_attempts": 100}})
    async with httpx.AsyncClient(base_url=bp.base_url) as client:
        state = (await client.get("/api/auth/state")).json()
        assert state == {"setup_required": True, "user": None}
        for name in ("admin", "freechat", "root"):
            for pw in ("admin", "freechat", "password", "123456"):
                r = await client.post(
                    "/api/auth/login", json={"username": name, "password": pw}
                )
                assert r.status_code == 401
        match = re.search(r"#/setup\?token=([\w-]+)", bp.log())
        assert match, "the one-time setup link is printed at first start"
        bad = await client.post(
            "/api/auth/setup",
            json={"token": "wrong", "username": "root", "password": PASSWORD},
        )
        assert bad.status_code == 403
        body = {"token": match.group(1), "username": "root", "password": PASSWORD}
        ok = await client.post("/api/auth/setup", json=body)
        assert ok.status_code == 200
        assert ok.json()["user"] == {"name": "root", "is_admin": True, "role": "admin"}
        again = await client.post("/api/auth/setup", json=body | {"username": "x"})
        assert again.status_code == 403


async def test_login_and_logout(bot) -> None:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        r = await login(client)
        assert r.status_code == 200
        cookie = r.headers.get_list("set-cookie")
        session = next(c for c in cookie if c.startswith("freechat_session="))
        assert "HttpOnly" in session
        assert "SameSite=strict" in session or "samesite=strict" in session.lower()
        assert (await client.get("/api/auth/me")).status_code == 200
        token = client.cookies["freechat_session"]
        # logout without the CSRF header is refused
        assert (await client.post("/api/auth/logout")).status_code == 403
        csrf = client.cookies["freechat_csrf"]
        assert (
            await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
        ).status_code == 204
    async with httpx.AsyncClient(base_url=bot.base_url) as fresh:
        fresh.cookies.set("freechat_session", token)
        assert (await fresh.get("/api/auth/me")).status_code == 401


async def test_wrong_password_and_rate_limit(bot) -> None:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        codes = []
        for _ in range(7):
            r = await client.post(
                "/api/auth/login", json={"username": "alice", "password": "nope-nope"}
            )
            codes.append(r.status_code)
        assert codes[:5] == [401] * 5
        assert codes[5:] == [429, 429]
        # the right password is refused too while limited
        assert (await login(client)).status_code == 429


def _key(bot) -> str:
    return (bot.data_dir / "secret.key").read_text().strip()


FORGERIES = ["alg_none", "wrong_alg", "expired", "no_exp", "tampered", "other_key"]


async def test_forged_sessions_are_401(bot) -> None:
    for forge in FORGERIES:
        await _check_forgery(bot, forge)


async def _check_forgery(bot, forge: str) -> None:
    now = int(time.time())
    claims = {"sub": "alice", "jti": uuid.uuid4().hex, "iat": now, "exp": now + 3600}
    key = _key(bot)
    if forge == "alg_none":
        token = jwt.encode(claims, None, algorithm="none")
    elif forge == "wrong_alg":
        token = jwt.encode(claims, key + "x" * 64, algorithm="HS512")
    elif forge == "expired":
        token = jwt.encode(claims | {"exp": now - 10}, key, algorithm="HS256")
    elif forge == "no_exp":
        token = jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, key, algorithm="HS256"
        )
    elif forge == "tampered":
        good = jwt.encode(claims, key, algorithm="HS256")
        head, _payload, sig = good.split(".")
        other = jwt.encode(claims | {"sub": "mallory"}, "k" * 40, algorithm="HS256")
        token = f"{head}.{other.split('.')[1]}.{sig}"
    else:
        token = jwt.encode(claims, "another-key-" * 4, algorithm="HS256")
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        client.cookies.set("freechat_session", token)
        assert (await client.get("/api/auth/me")).status_code == 401
        assert (await client.get("/api/conversations")).status_code == 401
    # the real key does work, so the 401s above are about the forgery
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        client.cookies.set(
            "freechat_session", jwt.encode(claims, key, algorithm="HS256")
        )
        assert (await client.get("/api/auth/me")).status_code == 200


async def test_conversations_of_others_are_404_and_csrf(bot) -> None:
    from bot.store.models import Conversation  # noqa: F401  (schema documented there)

    async with (
        httpx.AsyncClient(base_url=bot.base_url) as alice,
        httpx.AsyncClient(base_url=bot.base_url) as mallory,
    ):
        await login(alice)
        await login(mallory, "mallory")
        conv_id = await _make_conversation(bot, alice)
        assert (await alice.get(f"/api/conversations/{conv_id}")).status_code == 200
        assert (await mallory.get(f"/api/conversations/{conv_id}")).status_code == 404
        csrf_m = mallory.cookies["freechat_csrf"]
        r = await mallory.delete(
            f"/api/conversations/{conv_id}", headers={"X-CSRF-Token": csrf_m}
        )
        assert r.status_code == 404
        # missing or wrong CSRF token: refused, nothing deleted
        assert (await alice.delete(f"/api/conversations/{conv_id}")).status_code == 403
        r = await alice.delete(
            f"/api/conversations/{conv_id}", headers={"X-CSRF-Token": "x"}
        )
        assert r.status_code == 403
        assert (await alice.get(f"/api/conversations/{conv_id}")).status_code == 200
        csrf = alice.cookies["freechat_csrf"]
        r = await alice.delete(
            f"/api/conversations/{conv_id}", headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 204
        assert (await alice.get(f"/api/conversations/{conv_id}")).status_code == 404


async def _make_conversation(bot, client: httpx.AsyncClient) -> str:
    from tests.adapters.web.test_web_chat import WebChat

    async with WebChat(bot.base_url, client.cookies) as chat:
        await chat.send("remember this")
        frames = await chat.until_done()
    return frames[0]["conversation_id"]


async def test_successful_sign_ins_do_not_lock_out(bot) -> None:
    async with httpx.AsyncClient(base_url=bot.base_url) as client:
        for _ in range(8):
            assert (await login(client)).status_code == 200
