"""Application bootstrap: NoneBot2 with the FastAPI driver, adapters and plugins from
settings, the kernel's services, health and metrics endpoints, and a clean shutdown.

``create_app(settings)`` initialises NoneBot once per process and returns the FastAPI
app; ``run(settings)`` serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import nonebot
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import __version__, groups, monitor, orders, store
from bot.chain import chain
from bot.exceptions import ConfigError
from bot.http_guard import HttpGuard, loopback_only, validation_error
from bot.llm import LLMClient
from bot.logs import setup_logging
from bot.metrics import observe_middleware
from bot.plugin_store import module_of
from bot.registry import ConsulRegistry, Endpoint, Registry, StaticRegistry
from bot.runtime import Runtime, get_runtime, has_runtime, set_runtime
from bot.settings import Settings
from bot.state import open_state
from bot.store.claims import DatabaseClaims

log = logging.getLogger("freechat")

DRIVER = "~fastapi+~httpx+~websockets"
SHUTDOWN_GRACE = 10.0
#: what start-up registered in the chain (removed on shutdown)
_disposers: list[Callable[[], None]] = []


def _registry(settings: Settings) -> Registry:
    if settings.registry.kind == "consul":
        return ConsulRegistry(
            settings.registry.consul_url,
            settings.registry.service_name,
            api_key=settings.llm.api_key,
        )
    endpoints = [
        Endpoint(u.rstrip("/"), settings.llm.api_key)
        for u in settings.registry.endpoints
    ]
    if settings.llm.base_url:
        endpoints.insert(
            0, Endpoint(settings.llm.base_url.rstrip("/"), settings.llm.api_key)
        )
    return StaticRegistry(endpoints)


def _embedded(settings: Settings) -> bool:
    return (
        not settings.llm.base_url
        and not settings.registry.endpoints
        and settings.registry.kind == "static"
        and settings.inference.enabled
    )


def _load_adapters(driver: Any, settings: Settings) -> None:
    for name in settings.adapters:
        try:
            module = importlib.import_module(f"adapters.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("adapters"):
                raise ConfigError(f"adapters.{name}: no such adapter") from None
            raise
        register = getattr(module, "register", None)
        if callable(register):
            register(driver)
        else:
            driver.register_adapter(module.Adapter)


def _load_plugins(settings: Settings) -> None:
    for name in settings.plugins:
        if nonebot.load_plugin(f"plugins.{name}") is None:
            raise ConfigError(f"plugins.{name}: could not be loaded (see the log)")
    for name in settings.extra_plugins:
        # a PyPI name (nonebot-plugin-x) is accepted for its module
        module = module_of(name)
        if nonebot.load_plugin(module) is None:
            # one broken community plugin must not stop the bot
            log.error(
                "plugin %s could not be loaded and was skipped (its error is above)",
                name if module == name else f"{name} ({module})",
            )


def create_app(settings: Settings) -> FastAPI:
    """Initialise NoneBot and everything FreeChat adds to it."""
    setup_logging(settings.server.log_level)
    os.makedirs(settings.data_dir, exist_ok=True)
    config: dict[str, Any] = {
        "driver": DRIVER,
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": settings.server.log_level,
        "command_start": {"/"},
        "command_sep": {" "},
        "fastapi_openapi_url": None,
        "fastapi_docs_url": None,
        "fastapi_redoc_url": None,
    }
    config.update(settings.nonebot_config())
    nonebot.init(_env_file=(), **config)
    driver = nonebot.get_driver()
    app: FastAPI = nonebot.get_app()

    inference = None
    if _embedded(settings):
        inference = _embedded_inference(settings)
        app.mount("/inference", inference.app)
        # the bot calls it over loopback; nobody else may skip keys and budgets
        loopback_only("/inference")
    app.add_middleware(HttpGuard, settings=settings)
    app.add_exception_handler(RequestValidationError, validation_error)

    # the kernel starts first (plugins' start-up hooks use the runtime) and, since
    # NoneBot runs shutdown hooks in reverse, stops last
    @driver.on_startup
    async def _startup() -> None:
        await startup(settings, inference)

    @driver.on_shutdown
    async def _shutdown() -> None:
        await shutdown()

    monitor.install(driver)
    _load_adapters(driver, settings)
    _load_plugins(settings)
    _add_routes(app)

    from webui import setup_webui

    setup_webui(app, settings)

    if settings.server.gc_freeze:
        # registered last, so it runs after every adapter's and plugin's start-up
        driver.on_startup(_freeze_heap)
        driver.on_shutdown(_unfreeze_heap)
    return app


async def _freeze_heap() -> None:
    """Move what start-up loaded (modules, models, caches: it lives as long as the
    process) into the permanent generation. A full collection walked all of it and
    paused the loop for 50-100 ms every few seconds under load: the p99 latency of
    the OneBot bench at half load went from 68-87 ms to 11 ms."""
    gc.collect()
    gc.freeze()
    log.info(
        "start-up heap frozen: %d objects out of the collector's way",
        gc.get_freeze_count(),
    )


async def _unfreeze_heap() -> None:
    gc.unfreeze()  # an app in a longer-lived process (tests) gives them back


def _embedded_inference(settings: Settings) -> Any:
    from inference.config import InferenceConfig
    from inference.embedded import EmbeddedInference

    config = InferenceConfig(
        model=settings.inference.model,
        fallback_to_demo=settings.inference.fallback_to_demo,
        demo_model_dir=settings.inference.demo_model_dir,
        **settings.inference.options,
    )
    return EmbeddedInference(config)


async def startup(settings: Settings, inference: Any | None) -> None:
    """Connect storage and state, start inference and the LLM client."""
    t0 = time.monotonic()
    await store.init_store(settings.database.url)
    state = open_state(settings.state.url, durable=DatabaseClaims())
    registry = _registry(settings)
    demo = False
    if inference is not None:
        log.info("Loading the embedded model %s ...", settings.inference.model)
        await inference.start()
        demo = bool(inference.is_demo)
        host = (
            "127.0.0.1"
            if settings.server.host in ("0.0.0.0", "::")
            else settings.server.host
        )
        base = f"http://{host}:{settings.server.port}/inference/v1"
        assert isinstance(registry, StaticRegistry)
        registry.set([Endpoint(base)])
        if not settings.llm.model:
            settings.llm.model = str(inference.model_name)
    elif not registry.endpoints() and settings.registry.kind == "static":
        log.warning(
            "No LLM is configured: set llm.base_url (an OpenAI-compatible /v1 URL) "
            "or enable the embedded engine (inference.enabled: true)."
        )
    await registry.start()
    llm = LLMClient(registry, settings.llm)
    set_runtime(
        Runtime(
            settings=settings,
            state=state,
            llm=llm,
            registry=registry,
            inference=inference,
            demo_model=demo,
            instance_id=uuid.uuid4().hex[:12],
        )
    )
    chain.set_observer(observe_middleware)
    await groups.start(state)
    _disposers.append(
        chain.register(groups.middleware, order=orders.GROUPS, name="groups")
    )
    log.info("FreeChat %s ready in %.1f s", __version__, time.monotonic() - t0)


async def drain(within: float, *, give_up: Callable[[], bool] = lambda: False) -> None:
    """Stop taking new events and let the ones being answered finish, for at most
    ``within`` seconds (or until ``give_up()``); cancel the rest, which releases
    their claims so the platform's next delivery is answered elsewhere."""
    if not has_runtime():
        return
    rt = get_runtime()
    rt.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    if rt.handling:
        log.info("Draining: %d messages being answered", len(rt.handling))
    while rt.handling and loop.time() < deadline and not give_up():
        await asyncio.wait(set(rt.handling), timeout=0.1)
    left = set(rt.handling)
    if left:
        log.warning("Drain time is up: %d messages handed back", len(left))
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=5.0)


async def shutdown() -> None:
    """Cancel and await background tasks, then close every service."""
    if not has_runtime():
        return
    rt = get_runtime()
    while _disposers:
        _disposers.pop()()
    await groups.stop()
    tasks = list(rt.tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
        if pending:
            log.warning("%d background tasks did not stop in time", len(pending))
    await rt.llm.close()
    await rt.registry.stop()
    await rt.state.close()
    if rt.inference is not None:
        await rt.inference.stop()
    await store.close_store()
    set_runtime(None)


def _add_routes(app: FastAPI) -> None:
    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        if not has_runtime():
            return JSONResponse({"status": "starting"}, status_code=503)
        rt = get_runtime()
        db_ok, state_ok, llm_ok = await asyncio.gather(
            store.ping(), rt.state.ping(), rt.llm.ping()
        )
        checks = {
            "database": "ok" if db_ok else "down",
            "state": "ok" if state_ok else "degraded (in-process fallback)",
            "llm": "ok" if llm_ok else "down",
        }
        status = "ok" if db_ok and state_ok and llm_ok else "degraded"
        code = 200 if db_ok else 503
        return JSONResponse(
            {"status": status, "checks": checks, "demo_model": rt.demo_model},
            status_code=code,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def run(settings: Settings) -> bool:
    """Serve FreeChat until interrupted; True when a graceful restart was asked
    for (``SIGHUP``, as ``freechat plugin install --restart`` sends): the open
    connections are drained as on shutdown, and the caller starts afresh."""
    import signal

    import uvicorn

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
        ws_max_size=1 << 20,
    )

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[Any] | None = None) -> None:
            # drain while the platforms' connections are still open (uvicorn
            # closes them next): answers in flight are delivered, not cancelled
            for listener in self.servers:
                listener.close()
            await drain(settings.server.drain_timeout, give_up=lambda: self.force_exit)
            await super().shutdown(sockets)

    server = Server(config)
    restart = False

    def _restart(signum: int, frame: Any) -> None:
        nonlocal restart
        restart = True
        server.should_exit = True

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _restart)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    sys.stdout.flush()
    return restart
