"""Settings of the plugin manager (``plugins: {plugin_manager: {...}}``)."""

from __future__ import annotations

from pydantic import BaseModel


class Config(BaseModel):
    #: the package index pip installs from (empty: pip's own setting)
    plugin_manager_index_url: str = ""
    #: constraints file pip installs with (empty: FreeChat's constraints.txt)
    plugin_manager_constraints: str = ""
    #: also install URLs, paths and VCS specs (off: PyPI names with a pinned version)
    plugin_manager_allow_urls: bool = False
    #: the NoneBot plugin store's index that ``search`` reads
    plugin_manager_store_url: str = "https://registry.nonebot.dev/plugins.json"
