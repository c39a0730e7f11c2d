"""The database: an async engine, one transaction per handled event, Alembic migrations.

SQLite (the embedded default) serves one process; its writes are serialised by an
in-process lock so that two users' events never fight over SQLite's single writer. Its
statements run on the event loop's own thread (`InlineSqlite`): a statement on a local
WAL file takes microseconds, far less than handing it to aiosqlite's worker thread and
back, which used to cost about half of the time an event took.
PostgreSQL serves several processes; per-user order there comes from a row lock on the
user (`Repository.users.lock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from dialogs.store.repo import Repository

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreUnavailable(Exception):
    """The database could not be reached (down, timing out, out of connections). Nothing
    of the event was written: the door must not confirm the update, so that it is handled
    again when the database is back. Not a bug, so no apology to the person either."""


# SQLite messages that are a bug or a broken deployment, not a passing outage
_SQLITE_BUGS = ("no such", "syntax error", "has no column", "already exists", "constraint")


def is_connection_error(exc: BaseException) -> bool:
    """Is `exc` (or what caused it) the database being unreachable rather than a bug?

    OperationalError / InterfaceError (SQLAlchemy's words for "the connection failed")
    and a DBAPI error that invalidated its connection; asyncpg's connection errors (also
    "too many connections" and "the database system is starting up"); OSError and
    timeouts underneath. A step's own mistakes (a wrong column, a constraint) are not."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnavailable):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError):
            message = str(current.orig or current).lower()
            return not any(bug in message for bug in _SQLITE_BUGS)
        if isinstance(current, sa_exc.TimeoutError | OSError | TimeoutError | ConnectionError):
            return True
        if _asyncpg_connection_error(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _asyncpg_connection_error(exc: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.CrashShutdownError,
    )


def _json_dumps(value: Any) -> str:
    """JSON columns (dialog state, answers, outbox rows) written by orjson: the same JSON as
    the json module's, several times faster (non-ASCII letters are kept as they are)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# A pooled connection unused for longer than this is tested before it is handed out
IDLE_PING_SECONDS = 2.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Test a pooled PostgreSQL connection before use only if it sat idle for a while.

    SQLAlchemy's `pool_pre_ping` tests every checkout, and its asyncpg dialect does it in a
    transaction of its own: BEGIN, a ping, ROLLBACK, three round trips before each update's
    own statements (more than the update's SQL cost the database). A connection in steady
    use has just proved itself; one that sat idle may have been closed by a restart or a
    network cut, and is tested (and replaced, by the pool's disconnect handling) as before.
    If the server goes away while connections are busy, the next statement fails as a
    connection error: that unit is rolled back and reported as `StoreUnavailable` (the
    door handles the update again later), and SQLAlchemy invalidates the pool's older
    connections, so one failed attempt per process is the price."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _maybe_ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            if dialect.is_disconnect(error, dbapi_connection, None) or is_connection_error(error):
                # the pool replaces it (and tries again) when this is raised at checkout
                raise sa_exc.DisconnectionError() from error
            raise


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class InlineSqlite(aiosqlite.Connection):
    """aiosqlite whose statements run at once on the calling (event loop) thread.

    aiosqlite sends every call (execute, fetch, commit…) to a worker thread and waits for
    the answer: about 40 thread round trips per handled event. SQLite on a local file in
    WAL mode answers in microseconds, so running the call inline is much cheaper. The
    worker thread still opens and closes the connection. The price: a write that waits
    for another process's lock (say `kierto-bot users grant` at the same moment) holds
    the loop for that moment, at most `busy_timeout`."""

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _sqlite_creator(path: str) -> Any:
    async def connect() -> InlineSqlite:
        connection = InlineSqlite(
            lambda: sqlite3.connect(path, check_same_thread=False), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy does for plain aiosqlite
        try:
            return await connection
        except BaseException:
            # A file that cannot be opened: aiosqlite stops its worker thread itself; wait for
            # it while the loop still runs, or it reports to a closed loop (a start-up error
            # ends the loop at once) and the thread dies with an error.
            await asyncio.to_thread(connection._thread.join, 2)
            raise

    return connect


class Database:
    def __init__(self, url: str, *, schema: str | None = None, inline_sqlite: bool = True) -> None:
        """`inline_sqlite=False` keeps aiosqlite's worker thread (bench/engine_cost.py
        measures the difference)."""
        self.url = url
        self.schema = schema  # a search_path of its own (tests); bot/replicas.py needs it too
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path in ("", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
                path = ":memory:"
            else:
                path = str(Path(path).expanduser())
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if Path(path).is_dir():  # say so now, not from SQLite's worker thread later
                    raise IsADirectoryError(f"{path} is a folder, not a database file")
            if inline_sqlite:
                kwargs["async_creator"] = _sqlite_creator(path)
        elif schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        if not self.is_sqlite:
            # at most 30 connections, as before (10 + 20 overflow), but all of them kept:
            # overflow connections were closed when returned and opened again at the next
            # burst (a new server process each: more CPU than the statements it then ran)
            kwargs.update(pool_size=30, max_overflow=0)
        # hide_parameters: an error logged by SQLAlchemy must not quote people's answers
        self.engine: AsyncEngine = create_async_engine(
            url,
            hide_parameters=True,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            **kwargs,
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            _ping_when_idle(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Repository]:
        """One unit of work: everything inside commits together, or not at all."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session: AsyncSession = await stack.enter_async_context(self._sessions())
            async with session.begin():
                repo = Repository(session, postgres=not self.is_sqlite)
                yield repo
                await repo.finish()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """One short transaction on a bare connection, for SQLAlchemy Core statements
        where an ORM session is not needed (the outbox's claims and marks); it commits
        when the block ends, under the same SQLite write lock as `unit()`."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            yield await stack.enter_async_context(self.engine.begin())

    async def migrate(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to `revision` (the bot does this at every start)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)

    async def revision(self, message: str) -> None:
        """Autogenerate a migration from the difference between the models and the
        database (which must be at the latest revision)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(
                lambda c: command.revision(alembic_config(c), message, autogenerate=True)
            )

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)
