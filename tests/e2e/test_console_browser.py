"""The console in a real browser (Debian's Chromium through Playwright) against a
real ``freechat run`` with a NapCat-like QQ client: sign in as admin, add a keyword
and see it answer over QQ, set a group to wake on every message and see a plain
group message answered, watch the log stream, add a schedule and pause, run and remove it, switch a plugin off for a group
and back on, and globally, look at the
overview chart, and save a screenshot of every
console page in light and in dark (under the test's temporary folder).

The UI must be built into ``webui/static`` (``npm run build`` in webui/frontend).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.adapters.qq.napcat import text_of
from tests.adapters.qq.test_qq_process import config, connect
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, STATIC_INDEX

pytestmark = pytest.mark.browser

PASSWORD = "console-password-1"
PAGES = ["overview", "groups", "keywords", "sensitive-words", "budgets", "personas",
         "bans", "platform-users", "adapters", "providers", "users", "api-keys", "audit", "schedules", "plugins", "logs"]  # fmt: skip


async def _wait_sends(peer: Any, n: int) -> str:
    sends = await peer.wait_sends(n, timeout=30)
    return text_of(sends[-1])


async def test_console_in_the_browser(
    bot_process: Any, openai_stub: Any, tmp_path: Path
) -> None:
    if not STATIC_INDEX.exists() or not CHROMIUM.exists():
        pytest.skip("needs the built UI (npm run build) and /usr/bin/chromium")
    async_api = pytest.importorskip("playwright.async_api")
    openai_stub.set_default("model answer")
    bp = await bot_process(
        config(
            plugins={
                "chat": {},
                "admin": {},
                "keywords": {},
                "token_budget": {},
                "scheduler": {"retries": 0},
            }
        )
    )
    bp.cli("user", "add", "root", "--role", "admin", input=PASSWORD + "\n")
    peer = await connect(bp)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            expect = async_api.expect
            await page.goto(f"{bp.base_url}/")
            await page.get_by_test_id("login-username").fill("root")
            await page.get_by_test_id("login-password").fill(PASSWORD)
            await page.get_by_test_id("login-submit").click()
            await page.get_by_test_id("console-link").click()
            await expect(page.get_by_test_id("admin")).to_be_visible()

            # add a keyword; it answers over QQ
            await page.get_by_test_id("nav-keywords").click()
            form = page.get_by_test_id("add-form")
            await form.locator("input[name=pattern]").fill("营业时间")
            await form.locator("input[name=reply]").fill("每天九点到五点")
            await page.get_by_test_id("add").click()
            await expect(page.get_by_test_id("row-0")).to_contain_text("营业时间")
            n = len(peer.sends())
            await peer.send_event(peer.private_message("请问营业时间？"))
            assert await _wait_sends(peer, n + 1) == "每天九点到五点"
            conns = await page.evaluate(
                "fetch('/api/admin/adapters').then(r => r.json())"
            )
            qq = next(c for c in conns if c["adapter"] == "OneBot V11")
            assert qq["reconnects"] == 0
            assert qq["last_event_at"] is not None  # the message just sent

            # the group shows up once the bot has seen it; wake it for everything
            await peer.send_event(peer.group_message("hello", group_id=777))
            await _wait_sends(peer, n + 2)
            await page.get_by_test_id("nav-groups").click()
            row = page.get_by_test_id("resource-groups").locator(
                "tr", has_text="qq:777"
            )
            for _ in range(50):
                if await row.count():
                    break
                await page.get_by_test_id("search").fill("qq:777")
                await asyncio.sleep(0.3)
                await page.get_by_test_id("search").fill("")
            await row.locator("td[data-col='settings.wake']").click()
            await row.get_by_test_id("edit").select_option("all")
            await expect(row.locator("td[data-col='settings.wake']")).to_have_text(
                "all"
            )
            for _ in range(100):  # the change feed applies it a moment later
                group = await page.evaluate(
                    "fetch('/api/admin/groups/qq:777').then(r => r.json())"
                )
                if group["applied"]["wake"] == "all":
                    break
                await asyncio.sleep(0.05)
            await peer.send_event(
                peer.group_message("no mention here", group_id=777, at_self=False)
            )
            assert await _wait_sends(peer, n + 3) == "model answer"
            assert openai_stub.requests[-1]["messages"][-1]["content"] == (
                "no mention here"
            )

            # deleting asks first: dismissed, the rule stays; accepted, it goes
            await page.get_by_test_id("nav-keywords").click()
            await expect(page.get_by_test_id("row-0")).to_contain_text("营业时间")
            asked: list[str] = []

            async def answer(dialog: Any, accept: bool) -> None:
                asked.append(dialog.message)
                await (dialog.accept() if accept else dialog.dismiss())

            page.once("dialog", lambda d: asyncio.ensure_future(answer(d, False)))
            await page.get_by_test_id("row-0").get_by_test_id("delete").click()
            await expect(page.get_by_test_id("row-0")).to_contain_text("营业时间")
            page.once("dialog", lambda d: asyncio.ensure_future(answer(d, True)))
            await page.get_by_test_id("row-0").get_by_test_id("delete").click()
            await expect(page.get_by_test_id("resource-keywords")).not_to_contain_text(
                "营业时间"
            )
            assert len(asked) == 2

            # a schedule added in the page is listed with its next run; paused,
            # run now and removed (the last two ask first)
            await page.get_by_test_id("nav-schedules").click()
            form = page.get_by_test_id("sched-form")
            await form.locator("input[name=name]").fill("morning")
            await form.locator("select[name=trigger]").select_option("interval")
            await form.locator("input[name=spec]").fill("3600")
            await form.locator("input[name=targets]").fill("web:user:root")
            await form.locator("select[name=action]").select_option("text")
            await form.locator("input[name=payload]").fill("早安")
            await page.get_by_test_id("sched-add").click()
            job = page.get_by_test_id("sched-morning")
            await expect(job).to_contain_text("every 3600 s")
            await expect(job.locator("td[data-col=next_run]")).not_to_have_text("—")
            await job.get_by_test_id("sched-pause").click()
            await expect(job.locator("td[data-col=next_run]")).to_have_text("paused")
            await job.get_by_test_id("sched-resume").click()
            page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
            await job.get_by_test_id("sched-run").click()
            for _ in range(60):  # the run's outcome lands a moment later
                await page.get_by_test_id("sched-refresh").click()
                text = await job.locator("td[data-col=last_outcome]").inner_text()
                if text not in ("—", "running"):
                    break
                await asyncio.sleep(0.5)
            # the run reached root's web chat or was refused: either way it is shown
            assert text.split(" ")[0] in ("ok", "failed", "partial"), text
            page.once("dialog", lambda d: asyncio.ensure_future(d.dismiss()))
            await job.get_by_test_id("sched-remove").click()
            await expect(job).to_be_visible()
            page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
            await job.get_by_test_id("sched-remove").click()
            await expect(job).to_have_count(0)

            # a plugin switched off for the group on the plugins page is listed
            # there and on the group page; clicked, it is on again; globally too
            await page.get_by_test_id("nav-plugins").click()
            form = page.get_by_test_id("plug-switch-form")
            await form.locator("select[name=plugin]").select_option("keywords")
            await form.locator("input[name=scope]").fill("qq:777")
            await form.locator("select[name=enabled]").select_option(label="off")
            await page.get_by_test_id("plug-switch").click()
            kw = page.get_by_test_id("plug-keywords")
            chip = kw.get_by_test_id("plug-group-qq:777")
            await expect(chip).to_have_text("qq:777: off")
            group = await page.evaluate(
                "fetch('/api/admin/groups/qq:777').then(r => r.json())"
            )
            assert group["plugins"] == {"keywords": False}
            await chip.click()
            await expect(chip).to_have_text("qq:777: on")
            tb = page.get_by_test_id("plug-token_budget")
            await tb.get_by_test_id("plug-global").click()
            await expect(tb.get_by_test_id("plug-global")).to_have_text("off")
            await tb.get_by_test_id("plug-global").click()
            await expect(tb.get_by_test_id("plug-global")).to_have_text("on")
            # the group page shows the same switch and changes it
            await page.get_by_test_id("nav-groups").click()
            row = page.get_by_test_id("resource-groups").locator(
                "tr", has_text="qq:777"
            )
            cell = row.locator("td[data-col='plugins']")
            await expect(cell).to_have_text("keywords=on")
            await cell.click()
            await row.get_by_test_id("edit").fill("keywords=off")
            await row.get_by_test_id("edit").press("Enter")
            await expect(cell).to_have_text("keywords=off")
            listed = await page.evaluate(
                "fetch('/api/admin/plugins').then(r => r.json())"
            )
            switches = {i["name"]: (i["enabled"], i["groups"]) for i in listed["items"]}
            assert switches["keywords"] == (True, {"qq:777": False})
            assert switches["token_budget"] == (True, {})
            await page.get_by_test_id("nav-plugins").click()
            await (
                page.get_by_test_id("plug-install-form")
                .locator("input[name=spec]")
                .fill("https://example.invalid/x.whl")
            )
            await page.get_by_test_id("plug-install").click()
            await expect(page.get_by_test_id("message")).to_contain_text("pinned")

            # the log page streams: a line logged now shows up without a reload,
            # its token masked
            await page.get_by_test_id("nav-logs").click()
            await expect(page.get_by_test_id("logs-state")).to_have_attribute(
                "data-state", "live"
            )
            probe = bp.base_url.replace("http://", "ws://")
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(f"{probe}/nowhere/ws?access_token=tok-x81Q")
            logs = page.get_by_test_id("logs")
            await expect(logs).to_contain_text("/nowhere/ws?access_token=***")
            assert "tok-x81Q" not in await logs.inner_text()

            # the overview chart is drawn
            await page.get_by_test_id("nav-overview").click()
            chart = page.get_by_test_id("overview-chart")
            await expect(chart.locator("canvas")).to_be_visible()

            # every page, light and dark
            for theme in ("light", "dark"):
                await page.evaluate(
                    f"localStorage.setItem('freechat.theme', '{theme}')"
                )
                for name in PAGES:
                    await page.goto(f"{bp.base_url}/#/admin/{name}")
                    await page.reload()
                    await expect(page.get_by_test_id("admin")).to_be_visible()
                    if name == "plugins":  # the list, not the page before it loads
                        await expect(page.get_by_test_id("plug-chat")).to_be_visible()
                    assert (
                        await page.evaluate("document.documentElement.dataset.theme")
                        == theme
                    )
                    await page.screenshot(path=str(shots / f"{name}-{theme}.png"))
            assert len(list(shots.glob("*.png"))) == 2 * len(PAGES)
            print(f"screenshots in {shots}")
            assert not errors, errors
        finally:
            await browser.close()
            await peer.close()
