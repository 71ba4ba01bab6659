"""Settings of the admin plugin (``plugins: {admin: {...}}``)."""

from __future__ import annotations

from pydantic import BaseModel


class Config(BaseModel):
    #: answer to a command from someone who is not an admin (unset: a polite refusal
    #: in the ``locale``; empty: stay silent)
    admin_denied_message: str | None = None
