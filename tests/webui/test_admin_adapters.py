"""The adapters resource's rows: reconnects and last event from the kernel's
connection table, status and lease holder from the adapter, and a connection only
an adapter knows of (a WeCom long connection on standby) listed too."""

from __future__ import annotations

from webui.admin.system import connection_rows


def test_rows_merge_the_kernel_and_the_adapter() -> None:
    known = {
        "wecom:lc": {"adapter": "wecom", "self_id": "lc", "connects": 3,
                     "connected_at": 10.0, "disconnected_at": 9.0,
                     "last_event_at": 12.5},
        "QQ:1": {"adapter": "QQ", "self_id": "1", "connects": 1,
                 "connected_at": 5.0, "disconnected_at": None},
    }  # fmt: skip
    info = {
        "wecom:lc": {"status": "connected", "lease_holder": "i1/abc", "lease_here": True},
        "wecom:spare": {"status": "standby", "lease_holder": "i2/def", "lease_here": False},
    }  # fmt: skip
    rows = {
        f"{r.adapter}:{r.self_id}": r
        for r in connection_rows(known, {"wecom:lc"}, info)
    }
    assert sorted(rows) == ["QQ:1", "wecom:lc", "wecom:spare"]
    lc = rows["wecom:lc"]
    assert (lc.online, lc.reconnects, lc.last_event_at) == (True, 2, 12.5)
    assert (lc.status, lc.lease_holder, lc.lease_here) == ("connected", "i1/abc", True)
    qq = rows["QQ:1"]
    assert (qq.online, qq.reconnects, qq.last_event_at, qq.lease_holder) == (
        False, 0, None, None,
    )  # fmt: skip
    spare = rows["wecom:spare"]
    assert (spare.online, spare.connects, spare.status, spare.lease_here) == (
        False, 0, "standby", False,
    )  # fmt: skip
