"""The web chat in a real browser against a real `freechat run`.

Starts the bot on embedded defaults (SQLite, memory state, the embedded engine with
the offline demo model) in a temporary folder, adds a user with the CLI, then drives
Debian's Chromium through Playwright: sign in, send a message, watch the answer grow
over several WebSocket deltas and DOM updates, press stop mid-answer, and find the
conversation again after a reload. The UI must already be built into `webui/static`
(`npm run build` in `webui/frontend`); Chromium comes from apt, never from
`playwright install`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
STATIC_INDEX = ROOT / "webui" / "static" / "index.html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# FREECHAT_E2E_URL points the tests at a bot that is already running (with
# FREECHAT_E2E_USER / FREECHAT_E2E_PASSWORD) instead of starting one.
EXTERNAL_URL = os.environ.get("FREECHAT_E2E_URL", "").rstrip("/")
USERNAME = os.environ.get("FREECHAT_E2E_USER", "e2e-admin")
PASSWORD = os.environ.get("FREECHAT_E2E_PASSWORD", "e2e-password-123")
# Long answers, so that "stop" reliably lands while the demo model still streams.
MAX_TOKENS = "2000"
READY_TIMEOUT = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _freechat() -> list[str]:
    exe = Path(sys.executable).with_name("freechat")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "bot.cli"]


def _get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, None


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"freechat run exited with {proc.returncode}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        with contextlib.suppress(OSError, ValueError):
            status, body = _get_json(f"{base}/ready")
            last = (status, body)
            if status == 200 and isinstance(body, dict):
                if body.get("checks", {}).get("llm") == "ok":
                    return
        time.sleep(0.5)
    pytest.fail(
        f"freechat run not ready after {READY_TIMEOUT:.0f}s (last /ready: {last}):\n"
        + log.read_text(errors="replace")[-4000:]
    )


def _wait_engine_idle(bot_url: str, since: float, limit: float = 5.0) -> float:
    """Seconds from ``since`` until the embedded engine runs no request."""
    while time.monotonic() - since < limit:
        with urllib.request.urlopen(f"{bot_url}/inference/metrics", timeout=2) as res:
            text = res.read().decode()
        running = [
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("freechat_inference_running_requests ")
        ]
        if running and running[0] == 0:
            return time.monotonic() - since
        time.sleep(0.02)
    return time.monotonic() - since


@pytest.fixture(scope="module")
def bot_url(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    if not CHROMIUM.exists():
        if os.environ.get("FREECHAT_REQUIRE_BROWSER"):
            pytest.fail("Debian's chromium is missing (apt-get install -y chromium)")
        pytest.skip("Debian's chromium is missing (apt-get install -y chromium)")
    if EXTERNAL_URL:
        yield EXTERNAL_URL
        return
    if not STATIC_INDEX.exists():
        if os.environ.get("FREECHAT_REQUIRE_BROWSER"):
            pytest.fail(
                "web UI not built (cd webui/frontend && npm ci && npm run build)"
            )
        pytest.skip("web UI not built (cd webui/frontend && npm ci && npm run build)")
    work = tmp_path_factory.mktemp("freechat-e2e")
    # The demo model takes a while to build; keep it between runs.
    demo_dir = request.config.cache.mkdir("freechat-demo-model") / "model"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREECHAT")}
    env.update(
        {
            "FREECHAT__SERVER__HOST": "127.0.0.1",
            "FREECHAT__SERVER__PORT": str(port),
            "FREECHAT__INFERENCE__DEMO_MODEL_DIR": str(demo_dir),
            "FREECHAT__LLM__MAX_TOKENS": MAX_TOKENS,
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    cli = _freechat()
    added = subprocess.run(
        [*cli, "user", "add", USERNAME, "--admin", "--password-stdin"],
        input=f"{PASSWORD}\n".encode(),
        cwd=work,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    log = work / "freechat.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cli, "run", "--no-ui-build"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield b
        finally:
            b.close()


# Counts distinct, non-empty texts of the newest answer, once per animation frame.
COUNT_UPDATES_JS = """(want) => {
  const all = document.querySelectorAll('[data-testid="msg-assistant"]');
  const el = all[all.length - 1];
  if (!el) return false;
  const md = el.querySelector('.markdown');
  const text = md ? md.textContent : '';
  window.__fcSeen = window.__fcSeen || new Set();
  if (text) window.__fcSeen.add(text.length);
  return window.__fcSeen.size >= want;
}"""


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/")
    page.get_by_test_id("login-username").fill(USERNAME)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("chat-input").wait_for(timeout=20_000)


def test_sign_in_stream_and_stop(bot_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        if ws.url.endswith("/api/chat/ws"):
            ws.on("framereceived", lambda payload: _record(frames, payload))

    page.on("websocket", on_socket)
    try:
        page.goto(f"{bot_url}/")
        page.get_by_test_id("login-username").fill(USERNAME)
        page.get_by_test_id("login-password").fill("wrong password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()

        page.get_by_test_id("login-password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        chat_input = page.get_by_test_id("chat-input")
        chat_input.wait_for(timeout=20_000)
        send = page.get_by_test_id("chat-send")
        chat_input.fill("Tell me a long story about a lighthouse keeper.")
        expect(send).to_be_enabled(timeout=20_000)
        chat_input.press("Enter")

        expect(page.get_by_test_id("msg-user")).to_have_count(1)
        expect(page.get_by_test_id("msg-user").first).to_contain_text("lighthouse")
        answer = page.get_by_test_id("msg-assistant").last
        stop = page.get_by_test_id("chat-stop")
        expect(stop).to_be_visible()
        expect(send).to_be_disabled()

        # The answer grows over several renders while it is still streaming.
        page.wait_for_function(COUNT_UPDATES_JS, arg=4, polling="raf", timeout=60_000)
        expect(answer).to_have_attribute("data-streaming", "true")
        deltas = [f for f in frames if f.get("type") == "delta"]
        assert len(deltas) >= 2, frames[:5]
        starts = [f for f in frames if f.get("type") == "start"]
        assert starts
        assert isinstance(starts[0].get("demo"), bool)
        if starts[0]["demo"]:
            expect(answer.get_by_test_id("demo-badge")).to_be_visible()

        clicked = time.monotonic()
        stop.click()
        if not EXTERNAL_URL:
            # the embedded engine drops the request from its batch within 1 s
            closed_after = _wait_engine_idle(bot_url, clicked)
            assert closed_after < 1.0, (
                f"upstream still running {closed_after:.2f} s after stop"
            )
        expect(answer).to_have_attribute("data-streaming", "false", timeout=20_000)
        expect(answer).to_have_attribute("data-finish", "cancelled")
        expect(stop).to_have_count(0)
        done = [f for f in frames if f.get("type") == "done"]
        assert done
        assert done[-1]["finish_reason"] == "cancelled"
        text_at_stop = answer.locator(".markdown").inner_text()
        assert text_at_stop.strip()
        page.wait_for_timeout(500)
        assert answer.locator(".markdown").inner_text() == text_at_stop

        # The composer is free again, and the conversation is listed.
        chat_input.fill("again")
        expect(send).to_be_enabled()
        expect(page.get_by_test_id("conv-item")).not_to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


def _record(frames: list[dict[str, Any]], payload: Any) -> None:
    if isinstance(payload, bytes):
        return
    with contextlib.suppress(ValueError):
        frame = json.loads(payload)
        if isinstance(frame, dict):
            frames.append(frame)


def test_conversation_survives_reload(bot_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        _sign_in(page, bot_url)
        chat_input = page.get_by_test_id("chat-input")
        expect(page.get_by_test_id("chat-send")).to_be_disabled()
        chat_input.fill("Remember the word marmalade.")
        expect(page.get_by_test_id("chat-send")).to_be_enabled(timeout=20_000)
        chat_input.press("Enter")
        page.wait_for_function(COUNT_UPDATES_JS, arg=2, polling="raf", timeout=60_000)
        page.get_by_test_id("chat-stop").click()
        answer = page.get_by_test_id("msg-assistant").last
        expect(answer).to_have_attribute("data-streaming", "false", timeout=20_000)

        page.reload()
        chat_input.wait_for(timeout=20_000)
        expect(page.get_by_test_id("msg-user")).to_have_count(0)
        # Mobile width: the conversation list is a drawer behind the menu button.
        page.get_by_test_id("menu").click()
        item = page.get_by_test_id("conv-item").filter(has_text="marmalade")
        if item.count() == 0:
            item = page.get_by_test_id("conv-item").first
        item.locator("button").first.click()
        expect(page.get_by_test_id("msg-user").first).to_contain_text("marmalade")
        rendered = page.locator('[data-testid="msg-assistant"] .markdown')
        assert rendered.locator("script, img, iframe, svg, object").count() == 0
    finally:
        context.close()
