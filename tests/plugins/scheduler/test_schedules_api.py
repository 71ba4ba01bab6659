"""The scheduler's admin API in a running bot: admins only, CSRF on changes, jobs
added, paused, run and removed; a community plugin's job on the shared scheduler
listed as a plugin job and never kept."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.settings import DEFAULT_PLUGINS

PASSWORD = "correct horse battery"
BASE = "/api/admin/schedules"


async def signed_in(bp: Any, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=bp.base_url)
    r = await client.post(
        "/api/auth/login", json={"username": name, "password": PASSWORD}
    )
    assert r.status_code == 200
    client.headers["X-CSRF-Token"] = client.cookies["freechat_csrf"]
    return client


async def test_admin_routes_and_plugin_jobs(bot_process: Any) -> None:
    plugins: dict[str, Any] = {name: {} for name in DEFAULT_PLUGINS}
    plugins["scheduler"] = {"retries": 0}
    bp = await bot_process(
        {
            "plugins": plugins,
            "extra_plugins": ["tests.plugins.scheduler.community_plugin"],
        }
    )
    await asyncio.to_thread(
        bp.cli, "user", "add", "root", "--admin", input=PASSWORD + "\n"
    )
    await asyncio.to_thread(bp.cli, "user", "add", "alice", input=PASSWORD + "\n")
    admin = await signed_in(bp, "root")
    user = await signed_in(bp, "alice")
    job = {
        "name": "digest",
        "trigger": "cron",
        "spec": "0 8 * * *",
        "targets": ["web:user:root"],
        "action": "text",
        "payload": "早安",
    }
    try:
        assert (await user.get(BASE)).status_code == 403
        assert (await user.post(BASE, json=job)).status_code == 403
        no_csrf = httpx.AsyncClient(base_url=bp.base_url, cookies=admin.cookies)
        assert (await no_csrf.post(BASE, json=job)).status_code == 403
        await no_csrf.aclose()

        bad = await admin.post(BASE, json=job | {"targets": ["qq:grp:1"]})
        assert bad.status_code == 422
        assert "part 2 must be 'group' or 'user'" in bad.json()["detail"]
        created = await admin.post(BASE, json=job)
        assert created.status_code == 201
        assert created.json()["next_run"] is not None  # scheduled at once
        assert (await admin.post(BASE, json=job)).status_code == 409

        listed = (await admin.get(BASE)).json()
        assert [j["name"] for j in listed["jobs"]] == ["digest"]
        assert listed["jobs"][0]["last_outcome"] is None  # never ran yet
        assert [p["id"] for p in listed["plugin_jobs"]] == ["community_hourly"]

        paused = await admin.post(f"{BASE}/digest/pause")
        assert (paused.json()["enabled"], paused.json()["next_run"]) == (False, None)
        await admin.post(f"{BASE}/digest/resume")
        assert (await admin.post(f"{BASE}/digest/run")).status_code == 200
        for _ in range(100):
            runs = (await admin.get(f"{BASE}/digest/runs")).json()["runs"]
            if runs and runs[0]["outcome"] != "running":
                break
            await asyncio.sleep(0.1)
        # root has no web chat open: the run is logged with the refusal
        assert runs[0]["outcome"] == "failed"
        listed = (await admin.get(BASE)).json()["jobs"][0]
        assert (listed["last_outcome"], listed["last_run"]) == (
            "failed",
            runs[0]["started_at"],
        )
        assert "has no web chat open" in runs[0]["error"]
        assert (await admin.delete(f"{BASE}/digest")).status_code == 204
        assert (await admin.delete(f"{BASE}/digest")).status_code == 404
        assert (await admin.get(BASE)).json()["jobs"] == []
    finally:
        await admin.aclose()
        await user.aclose()
