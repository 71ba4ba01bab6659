"""The Official Account adapter: one ``/wechat/mp/<name>`` route (GET verify, POST
callbacks) per configured account, events handed to NoneBot in kept tasks, answers
through the passive reply or the customer-service API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from nonebot.adapters import Adapter as BaseAdapter
from nonebot.compat import model_dump, type_validate_python
from nonebot.drivers import URL, ASGIMixin, Driver, HTTPServerSetup, Request, Response
from typing_extensions import override

from bot.delivery import split_text
from bot.dispatch import dispatch as handle_event
from bot.platform import Platform, register_platform
from bot.runtime import get_runtime
from bot.send import register_sender
from bot.state import StateStore

from . import delivery
from .api import MPClient, install_log_redaction
from .bot import Bot
from .config import Config
from .event import Event, NoticeEvent
from .exception import MPApiError
from .handler import CallbackHandler
from .send import sender

log = logging.getLogger("freechat.adapters.mp")


class Adapter(BaseAdapter):
    @override
    def __init__(
        self, driver: Driver, *, state: StateStore | None = None, **kwargs: Any
    ):
        """``state`` overrides the runtime's shared state (for embedding)."""
        super().__init__(driver, **kwargs)
        self.mp_config = type_validate_python(Config, model_dump(driver.config))
        self._state = state
        install_log_redaction()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.handlers: dict[str, CallbackHandler] = {}
        self.clients: dict[str, MPClient] = {}
        self._http: httpx.AsyncClient | None = None
        self._dispose = register_platform(
            Platform(
                adapter=self.get_name(),
                context_factory=delivery.context_factory,
                deliver=delivery.deliver,
                style="whole",
            )
        )
        self._dispose_sender = register_sender("mp", sender(self))
        self._setup()

    @classmethod
    @override
    def get_name(cls) -> str:
        return "mp"

    @property
    def state(self) -> StateStore:
        return self._state if self._state is not None else get_runtime().state

    def _setup(self) -> None:
        if not isinstance(self.driver, ASGIMixin):
            log.warning(
                "mp: driver %s cannot serve HTTP; callbacks disabled", self.driver
            )
            return
        for account in self.mp_config.mp_accounts:
            handler = CallbackHandler(
                account,
                self.mp_config,
                lambda: self.state,
                self._dispatcher(account.name),
                self.send_rest,
            )
            self.handlers[account.name] = handler

            async def route(
                request: Request, handler: CallbackHandler = handler
            ) -> Response:
                return await self._handle(request, handler)

            for method in ("GET", "POST"):
                self.setup_http_server(
                    HTTPServerSetup(
                        URL(f"/wechat/mp/{account.name}"),
                        method,
                        f"mp {account.name} {method}",
                        route,
                    )
                )
        self.driver.on_startup(self._startup)
        self.driver.on_shutdown(self._shutdown)

    async def _startup(self) -> None:
        self._http = httpx.AsyncClient(timeout=self.mp_config.mp_api_timeout)
        for account in self.mp_config.mp_accounts:
            self.clients[account.name] = MPClient(
                account, self._http, self.state, self.mp_config.mp_api_base
            )
            self.bot_connect(Bot(self, account.name, account))

    async def _shutdown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        for handler in self.handlers.values():
            await handler.close()
        for name in list(self.bots):
            self.bot_disconnect(self.bots[name])
        if self._http is not None:
            await self._http.aclose()
        self._dispose()

    @staticmethod
    async def _handle(request: Request, handler: CallbackHandler) -> Response:
        query = dict(request.url.query.items())
        body = request.content or b""
        if isinstance(body, str):
            body = body.encode()
        reply = await handler.handle(request.method, query, body)
        return Response(
            reply.status,
            headers={"Content-Type": reply.content_type},
            content=reply.body,
        )

    def _dispatcher(self, name: str) -> Any:
        def dispatch(event: Event) -> None:
            bot = self.bots.get(name)
            if not isinstance(bot, Bot):
                log.warning("mp %s: event before start-up dropped", name)
                return
            task = asyncio.create_task(self._run(bot, event))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        return dispatch

    async def _run(self, bot: Bot, event: Event) -> None:
        try:
            if (
                isinstance(event, NoticeEvent)
                and event.event == "subscribe"
                and bot.account.welcome
            ):
                await self.answer(bot, event, bot.account.welcome)
            await handle_event(bot, event)
        finally:
            slot = event._slot
            if slot is not None and not slot.answer.done():
                slot.answer.set_result("")  # nothing answered: let the delivery go

    # -- answers --------------------------------------------------------------------
    async def answer(self, bot: Bot, event: Event, text: str) -> int:
        """Deliver ``text`` as the answer to ``event``; return messages sent by API."""
        slot = event._slot
        if slot is None or slot.answer.done():
            return await self._send(bot.self_id, event.from_user_name, text)
        handler = self.handlers[bot.self_id]
        key = handler.key(event)
        await self.state.set(f"{key}:ans", text, ttl=self.mp_config.mp_dedup_ttl)
        slot.answer.set_result(text)
        if await slot.taken or not text.strip():
            return 0
        if not await self.state.claim(f"{key}:out", self.mp_config.mp_dedup_ttl):
            return 0  # a retry's HTTP response carried it
        return await self._send(bot.self_id, event.from_user_name, text)

    async def send_rest(self, event: Event, pieces: list[str]) -> int:
        await asyncio.sleep(0.5)  # after the passive reply, to keep the order
        return await self._send_pieces(event.account, event.from_user_name, pieces)

    async def _send(self, name: str, openid: str, text: str) -> int:
        return await self._send_pieces(
            name, openid, split_text(text, self.mp_config.mp_max_chars)
        )

    async def _send_pieces(self, name: str, openid: str, pieces: list[str]) -> int:
        try:
            return await self.clients[name].send_text(openid, pieces)
        except (MPApiError, httpx.HTTPError) as exc:
            log.error("mp %s: customer-service send failed: %s", name, exc)
            return 0

    @override
    async def _call_api(self, bot: Bot, api: str, **data: Any) -> Any:  # type: ignore[override]
        """``await bot.call_api("message/custom/send", **payload)``: any
        ``/cgi-bin/`` POST API with the account's token."""
        return await self.clients[bot.self_id].call(api, data)
