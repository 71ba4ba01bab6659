"""A plugin that fails to import: FreeChat reports it by name and starts anyway."""

from __future__ import annotations

raise ImportError("this plugin needs a library that is not installed")
