"""The web app: the HTTP API (auth, conversations, info), the admin API
(``webui.admin``) and the built front end."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.auth import announce_setup_link, signing_key
from bot.http_guard import body_limit
from bot.settings import Settings

from .admin import setup_admin
from .api import router
from .schedules import router as schedules_router

log = logging.getLogger(__name__)

AUTH_BODY_LIMIT = 16 << 10
STATIC_DIR = Path(__file__).resolve().parent / "static"


def setup_webui(app: FastAPI, settings: Settings) -> None:
    """Mount the API and, when built, the UI at ``/``."""
    app.include_router(router)
    app.include_router(schedules_router)
    body_limit("/api/auth/", AUTH_BODY_LIMIT)  # anyone may post here: keep it small
    setup_admin(app, settings)
    import nonebot

    async def _announce() -> None:
        signing_key(settings)  # create the key now, not on the first sign-in
        await announce_setup_link(settings)

    nonebot.get_driver().on_startup(_announce)
    if (STATIC_DIR / "index.html").exists():
        # StaticFiles resolves paths inside its directory only (no traversal)
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    else:
        log.warning("web UI is not built (webui/static missing): API only")
