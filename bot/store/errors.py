"""What a database call can raise, and which of it means "the database is away".

Tortoise wraps only some driver errors. asyncpg's "the database system is starting
up / shutting down" (``CannotConnectNowError``, ``AdminShutdownError``) and a dropped
connection (``InterfaceError``, ``ConnectionDoesNotExistError``) reach the caller as
they are, so a handler that catches only ``BaseORMException`` lets them escape and
the message is lost. Handlers that must answer through a database fault catch
:data:`DB_ERRORS`; a writer that retries asks :func:`is_transient`.
"""

from __future__ import annotations

import sqlite3

import asyncpg
from tortoise.exceptions import BaseORMException, IntegrityError, OperationalError

#: everything a database call can raise when the database, or a row, is at fault
#: (ValueError: text the driver cannot encode, such as a lone surrogate)
DB_ERRORS: tuple[type[BaseException], ...] = (
    BaseORMException,
    OSError,
    TimeoutError,
    ValueError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # a connection the server dropped mid-statement leaves the protocol in a
    # state asyncpg reports with this one
    asyncpg.InternalClientError,
)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` says the database failed (worth retrying unchanged),
    False when the statement's own data was refused (retrying cannot help)."""
    if isinstance(exc, IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return False
    if isinstance(exc, asyncpg.DataError) or (
        isinstance(exc, OperationalError)
        and isinstance(exc.__cause__, asyncpg.DataError)
    ):
        return False
    return isinstance(
        exc,
        BaseORMException
        | OSError
        | TimeoutError
        | sqlite3.Error
        | asyncpg.PostgresError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError,
    )
