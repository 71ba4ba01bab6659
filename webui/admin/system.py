"""Admin API: overview, adapter connections, LLM providers, audit log, logs; and
the instance heartbeat that tells every instance which others are online."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Annotated, Any

import nonebot
from fastapi import APIRouter, Query
from prometheus_client import REGISTRY

from bot import __version__, groups
from bot.monitor import connections
from bot.runtime import get_runtime
from bot.state import FeedWatcher
from bot.store import flush_pending
from bot.store.models import AuditLog, Message

from . import logbuffer
from .deps import AdminReader, Limit, Offset, Reader, page
from .schemas import (
    AuditList,
    AuditOut,
    ConnectionOut,
    Overview,
    ProviderOut,
)

router = APIRouter()

HEARTBEAT_CHANNEL = "instances"
TTFT = "freechat_llm_time_to_first_token_seconds"
HEARTBEAT_EVERY = 10.0
#: rows the per-hour chart reads at most
CHART_ROWS = 50_000

#: instance id -> when its last heartbeat came (monotonic)
instances: dict[str, float] = {}


def _heard(message: dict[str, Any]) -> None:
    instance = message.get("instance")
    if isinstance(instance, str) and instance:
        instances[instance[:64]] = time.monotonic()


async def heartbeat() -> None:
    """Publish this instance's id every few seconds and listen for the others'."""
    rt = get_runtime()
    watcher = FeedWatcher(HEARTBEAT_CHANNEL, _heard)
    await watcher.start(rt.state)
    try:
        while True:
            await rt.state.publish(HEARTBEAT_CHANNEL, {"instance": rt.instance_id})
            await asyncio.sleep(HEARTBEAT_EVERY)
    finally:
        await watcher.stop()


def _samples(name: str) -> dict[str, float]:
    """A counter's values of this instance, by its first label."""
    out: dict[str, float] = {}
    for metric in REGISTRY.collect():
        if metric.name != name:
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total") or sample.name == name:
                label = next(iter(sample.labels.values()), "")
                out[label] = out.get(label, 0.0) + sample.value
    return out


def _quantile(name: str, q: float) -> float | None:
    """A histogram's ``q`` quantile on this instance (upper bucket bound), or None
    before anything was observed."""
    buckets: list[tuple[float, float]] = []
    for metric in REGISTRY.collect():
        if metric.name != name:
            continue
        for sample in metric.samples:
            if sample.name == name + "_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return None


async def _per_hour() -> tuple[list[dict[str, int | str]], int]:
    await flush_pending()
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    since = now - dt.timedelta(hours=23)
    rows = (
        await Message.filter(created_at__gte=since)
        .limit(CHART_ROWS)
        .values_list("created_at", "role", "tokens")
    )
    buckets = {
        (since + dt.timedelta(hours=i)).isoformat(): {"in": 0, "out": 0}
        for i in range(24)
    }
    midnight = now.replace(hour=0)
    tokens = 0
    for created, role, used in rows:
        hour = created.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        bucket = buckets.get(hour.isoformat())
        if bucket is not None:
            bucket["in" if role == "user" else "out"] += 1
        if created >= midnight:
            tokens += int(used or 0)
    return [{"hour": h} | counts for h, counts in buckets.items()], tokens


@router.get("/overview", tags=["overview"])
async def overview(session: Reader) -> Overview:
    rt = get_runtime()
    per_hour, tokens = await _per_hour()
    now = time.monotonic()
    alive = sorted(
        {i for i, seen in instances.items() if now - seen < 3 * HEARTBEAT_EVERY}
        | {rt.instance_id}
    )
    return Overview(
        version=__version__,
        instance=rt.instance_id,
        uptime=time.time() - rt.started_at,
        instances_online=alive,
        messages_in=_samples("freechat_messages_in"),
        messages_out=_samples("freechat_messages_out"),
        in_flight=sum(_samples("freechat_in_flight").values()),
        errors=_samples("freechat_errors"),
        shed=_samples("freechat_shed"),
        tokens_today=tokens,
        first_token_p50=_quantile(TTFT, 0.5),
        first_token_p95=_quantile(TTFT, 0.95),
        per_hour=per_hour,
        connections_online=sum(1 for c in connections.values() if c.get("online")),
        groups=len(groups.known_groups()),
    )


async def _adapter_info() -> dict[str, dict[str, Any]]:
    """What adapters say of their connections (``connection_info``: the WeCom long
    connection's status and lease holder), by ``adapter:self_id``."""
    out: dict[str, dict[str, Any]] = {}
    for adapter in nonebot.get_adapters().values():
        info = getattr(adapter, "connection_info", None)
        if callable(info):
            for self_id, values in (await info()).items():
                out[f"{adapter.get_name()}:{self_id}"] = values
    return out


def connection_rows(
    known: dict[str, dict[str, Any]], live: set[str], info: dict[str, dict[str, Any]]
) -> list[ConnectionOut]:
    """One row per connection seen (or only described: a standby connection)."""
    rows = []
    for key in sorted(set(known) | set(info)):
        c, extra = known.get(key, {}), info.get(key, {})
        adapter, _, self_id = key.partition(":")
        connects = int(c.get("connects", 0))
        rows.append(
            ConnectionOut(
                adapter=c.get("adapter", adapter),
                self_id=c.get("self_id", self_id),
                online=key in live,
                connected_at=c.get("connected_at"),
                disconnected_at=c.get("disconnected_at"),
                connects=connects,
                reconnects=max(0, connects - 1),
                last_event_at=c.get("last_event_at"),
                status=extra.get("status"),
                lease_holder=extra.get("lease_holder"),
                lease_here=extra.get("lease_here"),
            )
        )
    return rows


@router.get("/adapters", tags=["adapters"])
async def adapters(session: Reader) -> list[ConnectionOut]:
    live = {f"{b.adapter.get_name()}:{b.self_id}" for b in nonebot.get_bots().values()}
    return connection_rows(connections, live, await _adapter_info())


@router.get("/providers", tags=["providers"])
async def providers(session: Reader) -> list[ProviderOut]:
    """LLM endpoints in failover order, with this instance's view of their health."""
    llm = get_runtime().llm
    now = time.monotonic()
    out = []
    for ep in llm.registry.endpoints():
        health = llm._health_of(ep)  # the client's own bookkeeping, read only
        is_open = health.open_until > now
        out.append(
            ProviderOut(
                base_url=ep.base_url,
                healthy=not is_open,
                circuit="open" if is_open else "closed",
                failures=health.failures,
                in_flight=health.in_flight,
                reopens_in=max(0.0, health.open_until - now),
            )
        )
    return out


@router.get("/audit", tags=["audit"])
async def audit_log(
    session: AdminReader,
    actor: Annotated[str, Query(max_length=191)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=191)] = "",
    offset: Offset = 0,
    limit: Limit = 50,
) -> AuditList:
    query = AuditLog.all()
    if actor:
        query = query.filter(actor__icontains=actor)
    if action:
        query = query.filter(action__startswith=action)
    if target:
        query = query.filter(target__icontains=target)
    total, rows = await page(query, ("-id",), offset, limit)
    return AuditList(
        total=total,
        offset=offset,
        limit=limit,
        items=[
            AuditOut(
                id=r.id,
                actor=r.actor,
                action=r.action,
                target=r.target,
                before=r.before,
                after=r.after,
                detail=r.detail,
                created_at=r.created_at,
            )
            for r in rows
        ],
    )


@router.get("/logs", tags=["logs"])
async def logs(
    session: AdminReader, lines: Annotated[int, Query(ge=1, le=2000)] = 200
) -> dict[str, list[str]]:
    return {"lines": logbuffer.tail(lines)}
