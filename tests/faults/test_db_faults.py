"""D5: the database goes away (connections terminated, new ones refused, as during
a PostgreSQL shutdown or start-up) while messages arrive. The access check, the
history and the budget overrides must not drop the message: each fails by its
documented rule (access open, history without context, overrides to the configured
limits) and the message is answered; once the database is back, history is saved
again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.chain import MiddlewareChain
from bot.context import ChatContext, ReplyChunk
from bot.runtime import set_runtime
from bot.state import MemoryState

from .llm_helpers import load_plugins, make_runtime, orm

pytestmark = pytest.mark.usefixtures("nonebug_init")


async def admin(pg_url: str, *sql: str) -> None:
    """Run ``sql`` on the server's maintenance database (not the one under test)."""
    base, name = pg_url.rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        for statement in sql:
            await conn.execute(statement.replace("{db}", name))
    finally:
        await conn.close()


async def take_down(pg_url: str) -> None:
    await admin(
        pg_url,
        'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = '{db}' AND pid <> pg_backend_pid()",
    )


async def bring_back(pg_url: str) -> None:
    await admin(pg_url, 'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[str]:
    async with orm(pg_url):
        try:
            yield pg_url
        finally:
            await bring_back(pg_url)


def chain_of_plugins() -> MiddlewareChain:
    """Access, history and the token budget as the app orders them; no caches, so
    every message asks the database."""
    load_plugins("rate_limit", "history", "token_budget")
    from bot import orders
    from plugins.history.config import Config as HistoryConfig
    from plugins.history.middleware import make_middleware as history
    from plugins.rate_limit.access import AccessService, make_access_middleware
    from plugins.rate_limit.config import Config as RateConfig
    from plugins.token_budget.config import Config as BudgetConfig
    from plugins.token_budget.middleware import Overrides
    from plugins.token_budget.middleware import make_middleware as budget
    from plugins.token_budget.tokens import TokenCounter

    rate = RateConfig(rate_limit_access_cache=0)
    chain = MiddlewareChain()
    chain.register(
        make_access_middleware(AccessService(rate, state=MemoryState()), rate),
        order=orders.ACCESS,
    )
    chain.register(history(HistoryConfig()), order=orders.HISTORY)
    chain.register(
        budget(BudgetConfig(), TokenCounter(mode="estimate"), Overrides(ttl=0)),
        order=orders.TOKEN_BUDGET,
    )
    return chain


async def model(ctx: ChatContext) -> None:
    async def answer() -> AsyncIterator[ReplyChunk]:
        yield ReplyChunk(text=f"answer to {ctx.text}")

    ctx.reply = answer()


async def talk(chain: MiddlewareChain, text: str) -> str:
    ctx = ChatContext(platform="qq", user_id="7", group_id="g1", text=text)
    async with asyncio.timeout(10):
        await chain.run(ctx, model)
        return "".join([c.text async for c in ctx.reply])


async def test_messages_are_answered_while_the_database_is_away(
    store: str, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.store.models import Message

    rt = make_runtime()
    set_runtime(rt)
    try:
        chain = chain_of_plugins()
        assert await talk(chain, "before") == "answer to before"
        await take_down(store)
        for i in range(5):
            assert await talk(chain, f"during {i}") == f"answer to during {i}"
        # one line per fault, not one per message
        for words in ("access check skipped", "history unavailable"):
            assert sum(words in r.getMessage() for r in caplog.records) == 1, words
        await bring_back(store)
        for _ in range(50):  # the pool reconnects
            try:
                await Message.all().count()
                break
            except Exception:
                await asyncio.sleep(0.1)
        assert await talk(chain, "after") == "answer to after"
        saved = set(await Message.all().values_list("content", flat=True))
        assert {"before", "answer to before", "after", "answer to after"} <= saved
    finally:
        set_runtime(None)
        await rt.llm.close()


async def test_a_redis_outage_refuses_budgets_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The budget fails closed while Redis is away: each message gets the clear
    refusal, and the log gets one ERROR line, not one per message."""
    from bot.state.redis import RedisState
    from tests.conftest import free_port

    load_plugins("token_budget")
    from plugins.token_budget.config import Config
    from plugins.token_budget.middleware import Overrides, make_middleware
    from plugins.token_budget.tokens import TokenCounter

    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", prefix="fc-d9:")
    rt = make_runtime()
    rt.state = state
    set_runtime(rt)
    config = Config(token_budget_user_daily=1000)
    chain = MiddlewareChain()
    chain.register(
        make_middleware(config, TokenCounter(mode="estimate"), Overrides(ttl=60)),
        order=600,
    )
    try:
        for i in range(5):
            ctx = ChatContext(platform="qq", user_id=str(i), text="hi")
            async with asyncio.timeout(10):
                await chain.run(ctx, model)
                out = "".join([c.text async for c in ctx.reply])
            assert out == config.token_budget_unavailable_message
        lines = [r for r in caplog.records if "budget reservation" in r.getMessage()]
        assert len(lines) == 1
    finally:
        set_runtime(None)
        await state.close()
        await rt.llm.close()


async def test_a_middleware_failing_unforeseen_still_answers() -> None:
    """Whatever a middleware raises (a driver's own error no handler knew), the
    chat step answers with its error text instead of dropping the message."""
    load_plugins("chat")
    from plugins.chat.config import Config
    from plugins.chat.core import run_chain

    async def broken(ctx: ChatContext, call_next: object) -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database is starting up")

    chain = MiddlewareChain()
    chain.register(broken, order=100)
    rt = make_runtime()
    ctx = ChatContext(platform="qq", user_id="7", text="hi")
    try:
        await run_chain(ctx, chain, rt.llm, error_message=Config().chat_error_message)
        out = "".join([c.text async for c in ctx.reply])
    finally:
        await rt.llm.close()
    assert out == Config().chat_error_message
    assert ctx.stopped_by == "error"
