"""FreeChat settings.

Sources, highest first: environment variables ``FREECHAT__SECTION__KEY``, the YAML file
(``--config PATH``, ``FREECHAT_CONFIG`` or ``config/freechat.yml``), then defaults. A
bad value raises :class:`~bot.exceptions.ConfigError` whose message is one line naming
the key and the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .exceptions import ConfigError

DEFAULT_CONFIG = Path("config/freechat.yml")
DEFAULT_ADAPTERS = ("web", "openai")
DEFAULT_PLUGINS = (
    "chat",
    "admin",
    "rate_limit",
    "sensitive_words",
    "keywords",
    "history",
    "token_budget",
    "scheduler",
    "alerts",
    "plugin_manager",
)


def _sections(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: {} for name in names}


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    #: the URL users reach the bot at (for setup links); default http://host:port
    public_url: str | None = None
    #: longest user message accepted, in characters
    max_message_chars: int = Field(4000, ge=1, le=1_000_000)
    #: work in flight across all platforms before new messages are shed
    max_in_flight: int = Field(256, ge=1)
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: host names the ``Host`` header may carry besides loopback names, ``host`` and
    #: the host of ``public_url`` (DNS-rebinding guard); ``["*"]`` allows any
    allowed_hosts: list[str] = Field(default_factory=list)
    #: largest request body, in bytes, refused while it is read (routes such as
    #: ``/v1/chat/completions`` and sign-in have their own limits)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    #: after start-up, keep what start-up loaded out of garbage collection
    #: (``gc.freeze``): a full collection then no longer walks it
    gc_freeze: bool = True
    #: on SIGTERM, seconds to finish the messages being answered (no new ones are
    #: taken) before the rest are handed back and the process stops
    drain_timeout: float = Field(8.0, ge=0, le=3600)


class DatabaseSettings(BaseModel):
    url: str = "sqlite://data/freechat.db"

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(
            ("sqlite://", "postgres://", "postgresql://", "asyncpg://")
        ):
            raise ValueError("must start with sqlite:// or postgres://")
        return v


class StateSettings(BaseModel):
    url: str = "memory://"
    #: seconds a message claimed by an instance stays claimed unless that instance
    #: renews it (it does while it answers): a crashed instance's messages are
    #: answered by another when the platform sends them again after this
    claim_lease: float = Field(30.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise ValueError("must start with memory:// or redis://")
        return v


class LLMSettings(BaseModel):
    #: OpenAI-compatible base URL (ending in /v1); empty = the embedded engine
    base_url: str = ""
    api_key: str = ""
    #: model name sent upstream; empty = the first model the endpoint lists
    model: str = ""
    system_prompt: str = "You are a helpful assistant."
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.7, ge=0, le=2)
    context_window: int = Field(4096, ge=256)
    #: seconds to wait for the first bytes of an answer / between two chunks: a
    #: hung model is noticed this early, so a user has an answer within 10 s
    first_token_timeout: float = Field(7.0, gt=0)
    idle_timeout: float = Field(7.0, gt=0)
    connect_timeout: float = Field(5.0, gt=0)
    #: consecutive failures that open an endpoint's circuit; while it is open no
    #: request is sent there but one probe (a real request) every ``circuit_reset``
    #: seconds, and the first answer closes it
    circuit_failures: int = Field(3, ge=1)
    circuit_reset: float = Field(2.0, gt=0)
    #: requests in flight per endpoint; past it a message is answered "the model
    #: is not responding" at once instead of waiting for a slot
    max_in_flight_per_endpoint: int = Field(256, ge=1)
    #: whether the model sees images: ``on``, ``off`` (images become "[image]" and
    #: the user is told once), ``auto`` (``on`` when the name of the model
    #: answering, or of the first model the endpoint lists, matches ``vision_models``)
    vision: Literal["auto", "on", "off"] = "auto"
    #: model names (glob patterns) that take images, for ``vision: auto``
    vision_models: list[str] = Field(
        default_factory=lambda: [
            "*-vl*",
            "*vision*",
            "*llava*",
            "gpt-4o*",
            "gpt-4.1*",
            "gemini*",
            "claude*",
        ]
    )


#: hosts the platforms serve their users' media from
DEFAULT_MEDIA_HOSTS: dict[str, list[str]] = {
    "qq": [
        "*.qpic.cn",
        "multimedia.nt.qq.com.cn",
        "*.qq.com.cn",
        "*.qlogo.cn",
        "*.photo.store.qq.com",
    ],
}


class MediaSettings(BaseModel):
    """Fetching the images users send (``bot.media``): only from listed hosts."""

    #: per platform (``"*"``: every platform): exact names, ``*.suffix``, IPs or
    #: CIDR ranges; private and loopback addresses only when listed by IP/CIDR
    allowed_hosts: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_MEDIA_HOSTS.items()}
    )
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    #: seconds for the whole fetch: a hung host must not hold the answer long
    timeout: float = Field(6.0, gt=0)
    #: longest side of an image after downscaling, before any model sees it
    max_side: int = Field(1568, ge=64, le=8192)
    #: images per message; more are shown as "[image]"
    max_images: int = Field(4, ge=0, le=16)


class RegistrySettings(BaseModel):
    kind: Literal["static", "consul"] = "static"
    #: extra OpenAI-compatible endpoints (base URLs) for the static registry
    endpoints: list[str] = Field(default_factory=list)
    consul_url: str = "http://127.0.0.1:8500"
    service_name: str = "freechat-inference"


class InferenceSettings(BaseModel):
    """The embedded engine (``llm.base_url`` empty). Passed to ``inference``."""

    enabled: bool = True
    model: str = "Qwen/Qwen3-0.6B"
    fallback_to_demo: bool = True
    demo_model_dir: str = "data/demo-model"
    options: dict[str, Any] = Field(default_factory=dict)


class AuthSettings(BaseModel):
    #: JWT signing key; empty = generated once and kept in data/secret.key
    jwt_secret: str = ""
    session_ttl: int = Field(7 * 24 * 3600, ge=60)
    #: login attempts per user name and per client address per 5 minutes
    login_attempts: int = Field(5, ge=1)
    #: mark cookies Secure (set true behind HTTPS)
    cookie_secure: bool = False


class Settings(BaseSettings):
    """All FreeChat settings."""

    model_config = SettingsConfigDict(
        env_prefix="FREECHAT__",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    data_dir: str = "data"
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    #: enabled adapters, each with its settings (``{}`` for defaults)
    adapters: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: _sections(DEFAULT_ADAPTERS)
    )
    #: enabled plugins, each with its settings; given to NoneBot as
    #: ``<plugin>_<key>`` so ``get_plugin_config`` reads them
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: _sections(DEFAULT_PLUGINS)
    )
    #: community NoneBot plugins to load by module name
    extra_plugins: list[str] = Field(default_factory=list)
    #: platform user keys (``platform:user_id``, or a bare ``user_id`` for any
    #: platform) with admin rights in chat
    superusers: list[str] = Field(default_factory=list)
    #: NoneBot's own settings and community plugins' settings, given to NoneBot's
    #: config as they are (``command_start``, ``nickname``, ``repeater_group``)
    nonebot: dict[str, Any] = Field(default_factory=dict)
    #: language of what the bot says itself (command answers): zh-CN or en
    locale: Literal["zh-CN", "en"] = "zh-CN"

    _yaml: dict[str, Any] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def nonebot_config(self) -> dict[str, Any]:
        """NoneBot's config: adapter and plugin sections flattened into
        ``<name>_<key>``, then the ``nonebot`` section as it is, and the
        superusers in both forms (see :func:`nonebot_superusers`)."""
        flat: dict[str, Any] = {}
        for section in (self.adapters, self.plugins):
            for name, values in section.items():
                for key, value in (values or {}).items():
                    flat[f"{name}_{key}"] = value
        flat.update({key.lower(): value for key, value in self.nonebot.items()})
        flat["superusers"] = nonebot_superusers(self.superusers)
        flat["freechat_superusers"] = set(self.superusers)
        return flat


def nonebot_superusers(entries: list[str]) -> set[str]:
    """The ids NoneBot's ``SUPERUSER`` permission and plugins that read
    ``driver.config.superusers`` compare with: ``qq:123`` and ``123`` give
    ``123`` (NoneBot also accepts ``<adapter>:123``, never FreeChat's platform
    keys)."""
    return {entry.split(":", 1)[1] if ":" in entry else entry for entry in entries}


def _env_nonebot() -> dict[str, Any]:
    """``FREECHAT__NONEBOT__<KEY>`` variables, their values read as JSON where
    they are JSON (as NoneBot reads its own environment), else as text."""
    prefix = "FREECHAT__NONEBOT__"
    out: dict[str, Any] = {}
    for name, raw in os.environ.items():
        if name.upper().startswith(prefix) and len(name) > len(prefix):
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw
            out[name[len(prefix) :].lower()] = value
    return out


def _format(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"{key}: {err['msg']}"


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings from ``path`` (or ``FREECHAT_CONFIG``, or the default file)."""
    explicit = path or os.environ.get("FREECHAT_CONFIG")
    file = Path(explicit) if explicit else DEFAULT_CONFIG
    data: Any = {}
    if file.exists():
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{file}{where}: not valid YAML") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: the top level must be a mapping")
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    # environment overrides merge into these maps instead of replacing them
    data.setdefault("adapters", {name: {} for name in DEFAULT_ADAPTERS})
    data.setdefault("plugins", {name: {} for name in DEFAULT_PLUGINS})
    for section in ("adapters", "plugins"):
        if isinstance(data[section], list):
            data[section] = {name: {} for name in data[section]}
        elif isinstance(data[section], dict):
            data[section] = {k: v or {} for k, v in data[section].items()}
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format(exc)) from None
    settings.nonebot.update(_env_nonebot())
    return settings
