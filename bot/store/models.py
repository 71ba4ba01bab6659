"""Tortoise ORM models: every table FreeChat keeps.

Plugins use these models; schema changes go through migrations in
``bot/store/migrations`` (``freechat migrate`` applies them, start-up does too).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A web/API user (dashboard, web chat, OpenAI front door)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    #: kept equal to ``role == "admin"`` (the setup check reads it)
    is_admin = fields.BooleanField(default=False)
    #: ``admin``, ``operator`` or ``user`` (see ``bot.auth.roles``)
    role = fields.CharField(max_length=16, default="user", db_default="user")
    disabled = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class ApiToken(Model):
    """A per-user API key (only its SHA-256 is stored)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64, default="")
    prefix = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    revoked = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"


class RevokedSession(Model):
    """A signed-out session (JWT id) that must not be accepted again."""

    jti = fields.CharField(max_length=64, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "revoked_sessions"


class Conversation(Model):
    """One conversation: a web chat thread, or a platform session's context."""

    id = fields.CharField(max_length=36, primary_key=True)
    #: owner user key, ``platform:user_id`` (``web:alice``)
    owner = fields.CharField(max_length=191, db_index=True)
    #: the session key history is looked up by
    session_key = fields.CharField(max_length=191, db_index=True)
    platform = fields.CharField(max_length=32, default="")
    title = fields.CharField(max_length=200, default="")
    archived = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    messages: fields.ReverseRelation[Message]

    class Meta:
        table = "conversations"


class SessionConversation(Model):
    """A platform session's current conversation. The primary key holds it to one
    per session key: concurrent first messages of a new group (two events at once,
    or two instances) create one conversation, not several."""

    session_key = fields.CharField(max_length=191, primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name=False, on_delete=fields.CASCADE
    )
    conversation_id: str

    class Meta:
        table = "session_conversations"


class Message(Model):
    """One message of a conversation."""

    id = fields.BigIntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    conversation_id: str  # the foreign key's column, set by Tortoise
    role = fields.CharField(max_length=16)
    content = fields.TextField()
    reasoning = fields.TextField(null=True)
    tokens = fields.IntField(default=0)
    #: answered by the demo model (random weights)
    demo = fields.BooleanField(default=False)
    #: the platform's message id, when there is one
    platform_msg_id = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "messages"
        # history reads a conversation's newest messages
        indexes = (("conversation_id", "id"),)


class SessionSetting(Model):
    """Per-session settings: persona (system prompt) and model."""

    session_key = fields.CharField(max_length=191, primary_key=True)
    persona = fields.TextField(null=True)
    model = fields.CharField(max_length=128, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "session_settings"


class SensitiveWord(Model):
    """A sensitive word added by an admin (file lists live on disk)."""

    id = fields.IntField(primary_key=True)
    word = fields.CharField(max_length=191)
    category = fields.CharField(max_length=64, default="custom")
    created_by = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sensitive_words"
        unique_together = (("word", "category"),)


class KeywordRule(Model):
    """An auto-reply rule."""

    id = fields.IntField(primary_key=True)
    #: ``global`` or a group key (``qq:123456``)
    scope = fields.CharField(max_length=191, default="global", db_index=True)
    #: ``exact``, ``contains`` or ``regex``
    match = fields.CharField(max_length=16, default="contains")
    pattern = fields.CharField(max_length=500)
    reply = fields.TextField()
    priority = fields.IntField(default=0)
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    #: times the rule answered (flushed from the shared counters) and the last time
    hit_count = fields.BigIntField(default=0, db_default=0)
    last_hit_at = fields.DatetimeField(null=True)

    class Meta:
        table = "keyword_rules"


class BudgetOverride(Model):
    """A token quota for one user or group that replaces the default."""

    id = fields.IntField(primary_key=True)
    #: ``user`` or ``group``
    scope_kind = fields.CharField(max_length=8)
    scope_key = fields.CharField(max_length=191)
    daily_limit = fields.BigIntField(null=True)
    monthly_limit = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_overrides"
        unique_together = (("scope_kind", "scope_key"),)


class PluginSwitch(Model):
    """A plugin turned on or off, globally or for one group."""

    id = fields.IntField(primary_key=True)
    plugin = fields.CharField(max_length=128)
    #: ``global`` or a group key
    scope = fields.CharField(max_length=191, default="global")
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "plugin_switches"
        unique_together = (("plugin", "scope"),)


class Ban(Model):
    """A user key that may not use the bot."""

    id = fields.IntField(primary_key=True)
    user_key = fields.CharField(max_length=191, unique=True)
    reason = fields.CharField(max_length=500, default="")
    until = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=191, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bans"


class KeyValue(Model):
    """Small durable values: adapter cursors, tokens, setup state."""

    key = fields.CharField(max_length=191, primary_key=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "kv"


class AuditLog(Model):
    """Who changed what (admin commands, dashboard actions)."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.CharField(max_length=191)
    action = fields.CharField(max_length=64)
    detail = fields.TextField(default="")
    #: what was changed (``group:qq:123``, ``user:alice``), and its state as JSON
    #: before and after the change (empty when it did not exist)
    target = fields.CharField(max_length=191, default="", db_default="", db_index=True)
    before = fields.TextField(default="", db_default="")
    after = fields.TextField(default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"


class GroupSetting(Model):
    """One group chat the bot has seen, with its settings (``bot.groups``)."""

    #: ``platform:group_id`` (``qq:123456``)
    group_key = fields.CharField(max_length=191, primary_key=True)
    name = fields.CharField(max_length=200, default="")
    #: ``bot.groups.GroupSettings`` as JSON (empty: the defaults)
    settings = fields.TextField(default="")
    last_seen_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_settings"


class Persona(Model):
    """A named, reusable system prompt that groups refer to."""

    name = fields.CharField(max_length=64, primary_key=True)
    prompt = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "personas"


class Claim(Model):
    """A claim (a message being answered, or answered) taken in the database while
    the shared state (Redis) is away, so that instances still handle it once."""

    key = fields.CharField(max_length=191, primary_key=True)
    owner = fields.CharField(max_length=64)
    #: when the claim lapses, in epoch milliseconds
    expires = fields.BigIntField(db_index=True)

    class Meta:
        table = "claims"
