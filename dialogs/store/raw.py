"""The hot statements straight on the database driver, inside the unit's transaction.

Every update runs the same handful of statements: its id recorded, the user and their
dialog state read, the dialog state written back, a kartoitus answer read and written, its
replies queued in the outbox. Through SQLAlchemy each costs more CPU than the database
takes to run it (the statement's compiled form looked up, parameters processed, a result
object built, and with the async drivers two greenlet switches per driver call). `RawLane`
runs them as plain SQL on the connection the unit's session has already checked out, so
they commit or roll back with everything else the unit wrote:

- SQLite (`dialogs.store.db.InlineSqlite`): the sqlite3 connection itself, on the loop's
  thread as SQLAlchemy's statements already run; with aiosqlite's worker thread
  (`inline_sqlite=False`) through aiosqlite's own calls;
- PostgreSQL: the asyncpg connection (its prepared statement cache), after starting
  SQLAlchemy's transaction on it if no statement has yet.

Values are written as SQLAlchemy writes them (the same column types, dialects and JSON),
so rows written either way read the same: `tests/store/test_raw.py` compares them.
Failures of the sqlite3 driver are raised as SQLAlchemy's exceptions (with no parameters
in them, as `hide_parameters`), so `is_connection_error` reads them as before; asyncpg's
connection errors it knows already.

`OBSERVERS` are told every statement (the benchmarks count SQL statements with it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import exc as sa_exc

OBSERVERS: list[Callable[[str], None]] = []


def dumps(value: Any) -> str:
    """A JSON column's value as `Database`'s engine writes it (dialogs/store/db.py)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def sqlite_time(value: datetime) -> str:
    """A timestamp as SQLAlchemy's SQLite dialect stores `UTCDateTime`: UTC, no offset,
    always with microseconds ("2026-11-30 09:46:33.062490")."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def read_time(value: Any) -> datetime | None:
    """A `UTCDateTime` column as SQLAlchemy returns it: aware, in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _sqlite_error(error: sqlite3.Error, sql: str) -> sa_exc.DBAPIError:
    kind: type[sa_exc.DBAPIError]
    if isinstance(error, sqlite3.OperationalError):
        kind = sa_exc.OperationalError
    elif isinstance(error, sqlite3.IntegrityError):
        kind = sa_exc.IntegrityError
    elif isinstance(error, sqlite3.InterfaceError):
        kind = sa_exc.InterfaceError
    else:
        kind = sa_exc.DatabaseError
    return kind(sql, None, error, hide_parameters=True)


class RawLane:
    """Plain SQL on the unit's own connection (see the module docstring). SQL is written
    with `?` placeholders; on PostgreSQL they become `$1`, `$2`…"""

    def __init__(self, session: Any, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres
        self._sqlite: sqlite3.Connection | None = None
        self._aiosqlite: Any = None
        self._asyncpg: Any = None
        self._pg_sql: dict[str, str] = {}
        # dialog states read outside the session, with what they were: written back by
        # `Repository.finish` if they changed
        self.detached_states: list[tuple[Any, tuple[Any, ...]]] = []
        # users locked and read with an update id (PostgreSQL), for `lock_with_state`
        self.locked_users: dict[int, Sequence[Any]] = {}

    async def _connect(self) -> None:
        connection = await self.session.connection()
        fairy = await connection.get_raw_connection()
        if self.postgres:
            adapter = fairy.dbapi_connection  # SQLAlchemy's asyncpg adapter
            # SQLAlchemy begins its transaction at its first statement: begin it now, so
            # that these statements are inside it
            async with adapter._execute_mutex:
                if adapter._transaction is None:
                    await adapter._start_transaction()
            self._asyncpg = adapter._connection
            return
        driver = fairy.driver_connection  # aiosqlite's Connection
        from dialogs.store.db import InlineSqlite

        if isinstance(driver, InlineSqlite):
            self._sqlite = driver._conn
        else:
            self._aiosqlite = driver

    def _pg(self, sql: str) -> str:
        text = self._pg_sql.get(sql)
        if text is None:
            parts = sql.split("?")
            text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
            self._pg_sql[sql] = text
        return text

    async def _ready(self, sql: str) -> None:
        for observer in OBSERVERS:
            observer(sql)
        if self._sqlite is None and self._asyncpg is None and self._aiosqlite is None:
            await self._connect()

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """All rows of a statement (a SELECT, or a write with RETURNING)."""
        await self._ready(sql)
        if self._asyncpg is not None:
            return await self._asyncpg.fetch(self._pg(sql), *params)
        try:
            if self._sqlite is not None:
                return self._sqlite.execute(sql, params).fetchall()
            async with self._aiosqlite.execute(sql, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as error:
            raise _sqlite_error(error, sql) from error

    async def execute(self, sql: str, params: Sequence[Any]) -> int:
        """A write; returns the number of rows it wrote."""
        await self._ready(sql)
        if self._asyncpg is not None:
            status = await self._asyncpg.execute(self._pg(sql), *params)
            return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
        try:
            if self._sqlite is not None:
                return self._sqlite.execute(sql, params).rowcount
            async with self._aiosqlite.execute(sql, params) as cursor:
                return int(cursor.rowcount)
        except sqlite3.Error as error:
            raise _sqlite_error(error, sql) from error

    # values as the driver wants them

    def time(self, value: datetime) -> Any:
        return value if self.postgres else sqlite_time(value)

    def flag(self, value: bool) -> Any:
        return bool(value) if self.postgres else int(bool(value))

    read_time = staticmethod(read_time)

    def json(self, value: Any) -> Any:
        """A JSON column read: text on SQLite; on PostgreSQL asyncpg's codec (set up by
        SQLAlchemy) has decoded it already."""
        if self.postgres or value is None:
            return value
        return orjson.loads(value)
