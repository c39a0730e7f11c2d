"""Several bot processes on one database: who may poll, who runs the once-only jobs, and
whether a new process matches the ones already running.

PostgreSQL (several processes may share it). Every Telegram process keeps one connection
of its own (not from the pool) for as long as it runs, and on it:

- the door lock, a session-level advisory lock: `kierto-bot run` takes it exclusively
  (only one process may poll; a second one refuses to start instead of the 409
  tug-of-war over getUpdates), `kierto-bot webhook` replicas take it shared (any number of
  them, but never beside a polling process, which would delete their webhook);
- the leader lock, tried every `BEAT` seconds: the one process holding it runs the jobs
  that must run once (maintenance, the outbox loop's retries and broadcasts). When its
  connection is lost (the process died, the network or the database went away) PostgreSQL
  drops the lock, the jobs here stop, and another process takes over within `BEAT`
  seconds (a dead process: at once; a cut network: when the server notices, within about
  `tcp_keepalives_idle + interval * count` = 11 s, set on this connection);
- its row in `replica` (name, knowledge hash, Alembic head, webhook hash), refreshed every
  `BEAT` seconds. A new process compares itself with the rows seen in the last `ALIVE`
  seconds *before* it migrates the schema, and refuses to start beside a different
  knowledge base, schema version or webhook, naming the difference.

Advisory locks belong to the whole database, so their keys are derived from the database
and schema names: two deployments (or two test schemas) never share a lock.

SQLite serves one process: `run` and `webhook` take an exclusive file lock next to the
database file, and a second process on the same file refuses to start.

With REDIS_URL, each process also announces where its store is (Redis, unlike the
database, is shared by replicas that point at different databases by mistake): a process
whose DATABASE_URL names another database than its running peers' refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import socket
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from bot.config import Settings
    from dialogs.store.db import Database

log = logging.getLogger(__name__)

BEAT = 2.0  # seconds between heartbeats / leader attempts
ALIVE = 20  # seconds: a replica not seen for longer is gone
STOP_JOBS = 5.0  # seconds a job gets to finish after leadership is lost

DOOR, LEADER, REGISTRY, MIGRATE = 1, 2, 3, 4  # second halves of the advisory lock keys

Job = Callable[[asyncio.Event], Awaitable[None]]


class ReplicaRefused(Exception):
    """This process must not start beside the ones already running (one line)."""


@dataclass(frozen=True)
class Fingerprint:
    role: str  # poll | webhook
    knowledge: str
    schema_head: str
    webhook: str  # "" when polling
    database: str  # where the store is, without credentials


def knowledge_hash(directory: Path) -> str:
    """A short hash of every file under the knowledge directory (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def schema_head() -> str:
    from alembic.script import ScriptDirectory

    from dialogs.store.db import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from dialogs.store.db import alembic_config

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def database_identity(url: str) -> str:
    """The store a DATABASE_URL names, without user or password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        if path != ":memory:":
            path = str(Path(path).expanduser().resolve())
        return f"sqlite:///{path}"
    port = parsed.port or 5432
    return f"{parsed.get_backend_name()}://{parsed.host or 'localhost'}:{port}/{parsed.database}"


def fingerprint(settings: Settings, role: str) -> Fingerprint:
    webhook = ""
    if role == "webhook":
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        raw = f"{settings.webhook_url}\0{secret}".encode()
        webhook = hashlib.sha256(raw).hexdigest()[:12]
    return Fingerprint(
        role,
        knowledge_hash(settings.knowledge_dir),
        schema_head(),
        webhook,
        database_identity(settings.database_url),
    )


def replica_name() -> str:
    # in containers every process is pid 1: the host name tells them apart, the suffix
    # tells a restarted process from its predecessor's row
    return f"{socket.gethostname()[:60]}-{os.getpid()}-{secrets.token_hex(3)}"


class Replica:
    """A process's place among its peers. `join()` before the schema is migrated (raises
    `ReplicaRefused`), `start()` after; `run_once(job)` adds a job for the leader only;
    `lost` is set when the door lock could not be taken back after a lost connection (the
    process should stop); `retire()` at SIGTERM hands the once-only jobs to another
    replica at once (instead of when this process has finished draining); `close()` at
    the end."""

    def __init__(self, settings: Settings, db: Database, role: str) -> None:
        self.settings = settings
        self.db = db
        self.role = role
        self.name = replica_name()
        self.lost = asyncio.Event()
        self.leading = asyncio.Event()  # set while this process runs the once-only jobs
        self.retiring = False  # after retire(): never leads again
        self.jobs: list[Job] = []
        self._running: list[tuple[asyncio.Task[None], asyncio.Event]] = []
        self._loop: asyncio.Task[None] | None = None
        self._presence: RedisPresence | None = None
        if settings.redis_url:
            self._presence = RedisPresence(settings, self.name, role)

    def run_once(self, job: Job) -> None:
        """`job(stop)` runs while this process leads; it must return soon after `stop`."""
        self.jobs.append(job)
        if self.leading.is_set():
            self._start_job(job)

    async def join(self) -> None:
        if self._presence is not None:
            await self._presence.join()

    def migrating(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Around the schema migration: one replica at a time (PostgreSQL)."""
        return contextlib.nullcontext()

    async def start(self) -> None:
        if self._presence is not None:
            self._presence.start()

    async def retire(self) -> None:
        """Stop the once-only jobs and let another replica take them (this process is
        stopping: it serves what it has in hand, but leads no more)."""
        self.retiring = True
        await self._stop_jobs()

    async def close(self) -> None:
        await self._stop_jobs()
        if self._presence is not None:
            await self._presence.close()

    # ------------------------------------------------------------------ jobs

    def _start_job(self, job: Job) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(self._guarded(job, stop), name=f"once-only {job}")
        self._running.append((task, stop))

    async def _guarded(self, job: Job, stop: asyncio.Event) -> None:
        try:
            await job(stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a once-only job failed")

    def _lead(self) -> None:
        if not self.leading.is_set() and not self.retiring:
            log.info("replica %s now runs the once-only jobs", self.name)
            self.leading.set()
            for job in self.jobs:
                self._start_job(job)

    async def _stop_jobs(self) -> None:
        if self.leading.is_set():
            log.warning("replica %s no longer runs the once-only jobs", self.name)
        self.leading.clear()
        running, self._running = self._running, []
        for _, stop in running:
            stop.set()
        tasks = [task for task, _ in running]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_JOBS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class SqliteReplica(Replica):
    """SQLite: the only process on its file, and the leader from the start."""

    def __init__(self, settings: Settings, db: Database, role: str) -> None:
        super().__init__(settings, db, role)
        self._lock_file: Any = None

    async def join(self) -> None:
        path = database_identity(self.settings.database_url).removeprefix("sqlite:///")
        if path != ":memory:":
            lock_path = Path(path + ".lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a+")  # noqa: ASYNC230 - a local file, once at start
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise ReplicaRefused(
                    f"DATABASE_URL: another kierto-bot process is serving Telegram from {path} "
                    "(SQLite serves one process; use PostgreSQL for several replicas)"
                ) from None
            self._lock_file = handle
        try:
            await super().join()
        except BaseException:
            await self.close()
            raise

    async def start(self) -> None:
        await super().start()
        self._lead()

    async def close(self) -> None:
        await super().close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None


def make_replica(settings: Settings, db: Database, role: str) -> Replica:
    if db.is_sqlite:
        return SqliteReplica(settings, db, role)
    from bot.replicas_pg import PgReplica

    return PgReplica(settings, db, role)


class RedisPresence:
    """Each process's store, announced in Redis for `ALIVE` seconds and refreshed every
    `BEAT`: replicas of one bot that name different databases refuse to start together.
    Redis is optional: when it cannot be reached the check is skipped (logged)."""

    def __init__(self, settings: Settings, name: str, role: str) -> None:
        token = settings.bot_token.get_secret_value() if settings.bot_token else "0:"
        self.prefix = f"kierto-bot:{token.partition(':')[0]}:replica:"
        self.key = self.prefix + name
        self.name = name
        self.database = database_identity(settings.database_url)
        self.value = json.dumps({"database": self.database, "role": role})
        self.url = settings.redis_url or ""
        self.redis: Any = None
        self._task: asyncio.Task[None] | None = None

    async def join(self) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            peers = [key async for key in self.redis.scan_iter(match=self.prefix + "*")]
            for key in peers:
                raw = await self.redis.get(key)
                if raw is None or key.decode() == self.key:
                    continue
                theirs = json.loads(raw).get("database", "")
                if theirs != self.database:
                    peer = key.decode().removeprefix(self.prefix)
                    raise ReplicaRefused(
                        f"DATABASE_URL: this replica's store ({self.database}) is not the one "
                        f"replica {peer} uses ({theirs}); every replica must share one "
                        "PostgreSQL database"
                    )
            await self.redis.set(self.key, self.value, ex=ALIVE)
        except ReplicaRefused:
            await self.close()
            raise
        except Exception as exc:  # Redis is optional
            log.warning("could not compare this replica's store with its peers' in Redis: %s", exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(BEAT)
            with contextlib.suppress(Exception):  # Redis down: the key expires meanwhile
                await self.redis.set(self.key, self.value, ex=ALIVE)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.delete(self.key)
            with contextlib.suppress(Exception):
                await self.redis.aclose()
            self.redis = None


def lock_namespace(database: str, schema: str) -> int:
    """The first half of this store's advisory lock keys (a positive int4)."""
    return zlib.crc32(f"kierto-bot:{database}/{schema}".encode()) & 0x7FFFFFFF
