"""Job specs as users give them: every bad field refused with a clear message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError


@pytest.fixture
def spec(nonebug_init: None) -> Any:
    import nonebot

    nonebot.get_plugin("scheduler") or nonebot.load_plugin("plugins.scheduler")
    from plugins.scheduler.core import JobSpec

    def make(**fields: Any) -> Any:
        base = {
            "name": "j",
            "trigger": "interval",
            "spec": "60",
            "targets": ["qq:group:1"],
            "action": "text",
            "payload": "hi",
        }
        return JobSpec(**(base | fields))

    return make


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "a b"}, "should match pattern"),
        ({"trigger": "cron", "spec": "0 25 * * *"}, "higher than the maximum"),
        ({"trigger": "cron", "spec": "0 8 * *"}, "Wrong number of fields"),
        ({"spec": "0.5"}, "outside 1 s"),
        ({"spec": "soon"}, "not a number of seconds"),
        ({"trigger": "date", "spec": "tomorrow"}, "not an ISO date-time"),
        ({"trigger": "date", "spec": "2020-01-01T08:00"}, "never fires again"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"targets": []}, "at least 1 item"),
        ({"targets": ["qq:group:abc"]}, "QQ group id is a number"),
        ({"payload": "   "}, "empty"),
        ({"payload": "x" * 4001}, "at most 4000"),
        ({"payload": "\ud800"}, "valid string"),
    ],
)
def test_bad_specs(spec: Any, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


def test_good_specs(spec: Any) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert spec(trigger="date", spec=later).spec == later
    assert spec(trigger="cron", spec="0 8 * * 1-5").timezone == "Asia/Shanghai"
    same = spec(targets=["qq:group:1", "qq:group:1", "wecom:robot:ops"])
    assert same.targets == ["qq:group:1", "wecom:robot:ops"]
