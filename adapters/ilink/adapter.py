"""The iLink adapter: Tencent's bot API for personal WeChat direct chats.

One kept task long-polls ``getupdates``. Each batch is admitted (deduplicated by
message id through the shared state, bounded per bot, the rest shed), handed to
NoneBot, and only then is the batch's cursor persisted in ``KeyValue``: after a
restart the poll resumes where it left off, a batch that was not persisted is
fetched again and its already-claimed messages are skipped, so nothing is lost and
nothing is answered twice. ``errcode -14`` (session expired) stops the poll with a
clear status and a re-login prompt.

``status`` is one of: ``stopped``, ``logged_out``, ``polling``, ``retrying``,
``expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nonebot.adapters import Adapter as BaseAdapter
from nonebot.compat import model_dump, type_validate_python
from nonebot.drivers import Driver
from nonebot.utils import logger_wrapper
from typing_extensions import override

from adapters.onebot.guard import BusyNotifier, EntryGate, RecentIds, handling_once
from bot.platform import register_platform
from bot.runtime import get_runtime, has_runtime
from bot.send import register_sender

from . import store
from .bot import Bot
from .client import ILinkClient
from .config import Config
from .event import MessageEvent
from .exception import ILinkError, NotLoggedIn, SessionExpired
from .send import remember, sender

log = logger_wrapper("iLink")
USER_MESSAGE = 1
MAX_RETRY_DELAY = 60.0
RELOGIN = "run `freechat ilink login` to log in again"


class Adapter(BaseAdapter):
    @override
    def __init__(self, driver: Driver, **kwargs: Any) -> None:
        super().__init__(driver, **kwargs)
        self.ilink_config = type_validate_python(Config, model_dump(driver.config))
        cfg = self.ilink_config
        self.client = ILinkClient(cfg.ilink_base_url)
        self.status = "stopped"
        self.bot: Bot | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.recent = RecentIds()
        self.gate = EntryGate(cfg.ilink_max_in_flight)
        self.busy = BusyNotifier(
            "ilink", mode=cfg.ilink_shed, cooldown=cfg.ilink_busy_cooldown
        )
        self._poller: asyncio.Task[None] | None = None
        driver.on_startup(self.start)
        driver.on_shutdown(self.stop)
        from .platform import platform

        self._dispose_platform = register_platform(platform(self.get_name()))
        self._dispose_sender = register_sender("ilink", sender(self))

    @classmethod
    @override
    def get_name(cls) -> str:
        return "iLink"

    @override
    async def _call_api(self, bot: Any, api: str, **data: Any) -> Any:
        return await self.client.post(api, data)

    # -------------------------------------------------------------- lifecycle
    async def _stored_token(self) -> str | None:
        # sealed with the instance's secret: none outside a running FreeChat
        if not has_runtime():
            return None
        return await store.get_token(get_runtime().settings)

    async def start(self) -> None:
        """Log in with the configured or stored token and start polling."""
        try:
            token = self.ilink_config.ilink_token or await self._stored_token()
            if not token:
                raise NotLoggedIn("no bot token")
            bot_id = await store.get_value(store.BOT_ID_KEY) or "ilink"
            base_url = await store.get_value(store.BASE_URL_KEY)
        except NotLoggedIn:
            self.status = "logged_out"
            log("WARNING", f"iLink is not logged in: {RELOGIN}")
            return
        if base_url and self.ilink_config.ilink_token is None:
            await self.client.close()
            self.client = ILinkClient(base_url)
        self.client.token = token
        self.bot = Bot(self, bot_id)
        self.bot_connect(self.bot)
        self._poller = asyncio.create_task(self._poll(self.bot), name="ilink-poll")

    async def stop(self) -> None:
        tasks = [t for t in (self._poller, *self.tasks, *self.busy.tasks) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(
            *(asyncio.wait_for(t, 10) for t in tasks), return_exceptions=True
        )
        if self.bot is not None and self.bot.self_id in self.bots:
            self.bot_disconnect(self.bot)
        await self.client.close()
        if self.status != "expired":
            self.status = "stopped"

    # -------------------------------------------------------------------- poll
    async def _poll(self, bot: Bot) -> None:
        key = store.cursor_key(bot.self_id)
        cursor = await store.get_value(key) or ""
        delay = self.ilink_config.ilink_retry_delay
        while True:
            try:
                self.status = "polling"
                batch = await self.client.get_updates(
                    cursor, wait_s=self.ilink_config.ilink_poll_timeout
                )
                for raw in batch.get("msgs") or []:
                    await self._admit(bot, raw)
                new_cursor = batch.get("get_updates_buf")
                if isinstance(new_cursor, str) and new_cursor and new_cursor != cursor:
                    await store.set_value(key, new_cursor)  # after the hand-over
                    cursor = new_cursor
                delay = self.ilink_config.ilink_retry_delay
            except SessionExpired:
                self.status = "expired"
                log("ERROR", f"iLink session expired (errcode -14): {RELOGIN}")
                if bot.self_id in self.bots:
                    self.bot_disconnect(bot)
                return
            except (ILinkError, OSError) as exc:
                self.status = "retrying"
                log("WARNING", f"iLink poll failed ({exc}); retrying in {delay:.0f} s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)

    async def _admit(self, bot: Bot, raw: Any) -> None:
        """Claim one inbound message and hand it to NoneBot (or shed it)."""
        if not isinstance(raw, dict) or raw.get("message_type") != USER_MESSAGE:
            return
        try:
            event = MessageEvent.from_wire(raw)
        except (KeyError, TypeError, ValueError) as exc:
            log("WARNING", f"skipped a malformed iLink message ({exc!r})")
            return
        if event.message_id in self.recent:
            return
        if not self.gate.try_enter(bot.self_id):
            self.busy.shed(
                event.from_user_id,
                lambda: self.client.send_text(
                    event.from_user_id,
                    event.context_token,
                    self.ilink_config.ilink_busy_text,
                ),
            )
            return
        self.recent.add(event.message_id)
        task = asyncio.create_task(self._handle(bot, event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, bot: Bot, event: MessageEvent) -> None:
        answered = False
        try:
            await remember(event.from_user_id, event.context_token)
            async with handling_once(
                "ilink",
                bot.self_id,
                event.message_id,
                self.ilink_config.ilink_dedup_ttl,
            ) as mine:
                if mine:
                    await bot.handle_event(event)
                    answered = True
        except Exception as exc:
            log("ERROR", f"handling an iLink message failed: {exc!r}", exc)
        finally:
            self.gate.leave(bot.self_id)
            if not answered:  # not ours, or given back: the claim decides next
                self.recent.discard(event.message_id)

    async def wait_stopped(self) -> None:
        """Wait for the poll task to end (after expiry or stop)."""
        if self._poller is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
