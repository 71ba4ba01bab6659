"""Small helpers shared by the plugin tests (importable by name from test modules)."""

from __future__ import annotations

import uuid


def unique_prefix() -> str:
    """A Redis key prefix no other test run uses."""
    return f"fctest:{uuid.uuid4().hex[:10]}:"
