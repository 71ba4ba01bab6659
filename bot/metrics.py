"""Prometheus metrics of the bot (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("freechat_messages_in_total", "Messages received", ["platform"])
MESSAGES_OUT = Counter("freechat_messages_out_total", "Messages sent", ["platform"])
MIDDLEWARE_SECONDS = Histogram(
    "freechat_middleware_seconds",
    "Time spent in each middleware (setup, not the streamed answer)",
    ["middleware"],
    buckets=(0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
LLM_TTFT = Histogram(
    "freechat_llm_time_to_first_token_seconds",
    "Time from request to the first token",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
ERRORS = Counter("freechat_errors_total", "Errors by kind", ["kind"])
SHED = Counter(
    "freechat_shed_total", "Messages refused because of overload", ["platform"]
)
IN_FLIGHT = Gauge("freechat_in_flight", "Messages being answered now")


def observe_middleware(name: str, seconds: float) -> None:
    MIDDLEWARE_SECONDS.labels(name).observe(seconds)
