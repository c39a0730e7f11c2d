"""Start-up failures as one line that names the setting to fix (exit status 2).

A database that refuses, a wrong password, a missing database, an unknown host, a data
directory the bot cannot write, a port already taken: each is a problem with a setting, not
a bug, so the operator gets one line saying which setting and what is wrong, never a
traceback of a hundred lines.
"""

from __future__ import annotations

import errno
import socket


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _database_problem(exc: BaseException, url: str) -> str | None:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        asyncpg = None  # type: ignore[assignment]
    sqlite = url.startswith("sqlite")
    for cause in _chain(exc):
        name = type(cause).__name__
        text = str(cause).lower()
        if asyncpg is not None:
            refused = asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
            if isinstance(cause, refused):
                return "PostgreSQL refused the user name or password"
            if isinstance(cause, asyncpg.InvalidCatalogNameError):
                return "that database does not exist on the PostgreSQL server (create it first)"
            if isinstance(cause, asyncpg.TooManyConnectionsError):
                return "PostgreSQL has no free connections"
            if isinstance(cause, asyncpg.CannotConnectNowError):
                return "PostgreSQL is starting up or shutting down; try again in a moment"
        if isinstance(cause, socket.gaierror):
            return "unknown database host (check the host name)"
        if isinstance(cause, ConnectionRefusedError) or "connection refused" in text:
            return "nothing accepts connections at that host and port (is PostgreSQL running?)"
        if isinstance(cause, PermissionError) or (
            sqlite and (isinstance(cause, OSError) or "unable to open database" in text)
        ):
            return "cannot create or write the database file (check the folder and permissions)"
        if sqlite and ("readonly" in text or "read-only" in text):
            return "the database file is read-only"
        if isinstance(cause, TimeoutError) or name == "TimeoutError":
            return "the database server did not answer in time"
        if isinstance(cause, OSError) and not sqlite:
            return f"cannot reach the database ({cause.strerror or name})"
    return None


def explain(exc: BaseException, *, database_url: str, listen_setting: str | None) -> str | None:
    """One line (`SETTING: what is wrong`) for a start-up failure caused by a setting, or
    None for anything else (a bug, which keeps its traceback)."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE and listen_setting:
            return f"{listen_setting}: that port is already in use by another program"
        if isinstance(cause, OSError) and cause.errno == errno.EADDRNOTAVAIL and listen_setting:
            return f"{listen_setting}: that address is not one of this machine's"
    problem = _database_problem(exc, database_url)
    return f"DATABASE_URL: {problem}" if problem else None
