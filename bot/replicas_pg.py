"""The PostgreSQL half of bot/replicas.py: door lock, leader lock and fingerprint rows on
one dedicated asyncpg connection per process (see that module's docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.replicas import (
    ALIVE,
    BEAT,
    DOOR,
    LEADER,
    MIGRATE,
    REGISTRY,
    Fingerprint,
    Replica,
    ReplicaRefused,
    fingerprint,
    known_revisions,
    lock_namespace,
)
from dialogs.store.db import Database

log = logging.getLogger("bot.replicas")

# the server drops a silent connection (and with it the locks) after 5 + 2 * 3 s
KEEPALIVE = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}

_PEERS = """
SELECT name, role, knowledge, schema_head, webhook FROM replica
WHERE name <> $1 AND seen_at > now() - make_interval(secs => $2)
ORDER BY started_at
"""
_REGISTER = """
INSERT INTO replica (name, role, knowledge, schema_head, webhook, started_at, seen_at)
VALUES ($1, $2, $3, $4, $5, now(), now())
ON CONFLICT (name) DO UPDATE SET seen_at = now()
"""
_HOLDERS = """
SELECT mode FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid::int8 = $1 AND objid::int8 = $2
"""


class PgReplica(Replica):
    def __init__(self, settings: Settings, db: Database, role: str) -> None:
        super().__init__(settings, db, role)
        self.conn: Any = None
        self.ns = 0
        self._holds_leader = False  # the leader lock, held on `conn`
        self._wake = asyncio.Event()  # the heartbeat loop's next beat, now
        self._released = asyncio.Event()  # retire(): the leader lock is given back
        self.fingerprint = Fingerprint("", "", "", "", "")

    # ------------------------------------------------------------------ start

    async def join(self) -> None:
        """Door lock, schema revision and peers, before anything is migrated."""
        await super().join()
        self.fingerprint = fingerprint(self.settings, self.role)
        self.conn = await self._connect()
        try:
            await self._take_door()
            await self._check_revision()
            await self._check_peers()
        except BaseException:
            await self._close_conn()
            raise

    @contextlib.asynccontextmanager
    async def migrating(self) -> AsyncIterator[None]:
        """Replicas started together on a fresh database migrate one after the other (the
        later ones find nothing left to do) instead of racing to create the same tables."""
        await self.conn.execute("SELECT pg_advisory_lock($1, $2)", self.ns, MIGRATE)
        try:
            yield
        finally:
            await self.conn.execute("SELECT pg_advisory_unlock($1, $2)", self.ns, MIGRATE)

    async def start(self) -> None:
        """After migrating: register (checking the peers again, now that the table surely
        exists) and start the heartbeat / leader loop."""
        await super().start()
        async with self.conn.transaction():
            await self.conn.execute("SELECT pg_advisory_xact_lock($1, $2)", self.ns, REGISTRY)
            await self._check_peers()
            await self._register()
        self._loop = asyncio.create_task(self._run(), name="replica heartbeat")

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        await super().close()
        if self.conn is not None and not self.conn.is_closed():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await self.conn.execute("DELETE FROM replica WHERE name = $1", self.name)
        await self._close_conn()

    async def _connect(self) -> Any:
        url = make_url(self.db.url).set(drivername="postgresql")
        server_settings = {"application_name": f"kierto-bot {self.role} {self.name}"[:63]}
        server_settings.update(KEEPALIVE)
        if self.db.schema:
            server_settings["search_path"] = self.db.schema
        conn = await asyncpg.connect(
            url.render_as_string(hide_password=False), timeout=10, server_settings=server_settings
        )
        database, schema = await conn.fetchrow("SELECT current_database(), current_schema()")
        self.ns = lock_namespace(database, schema or self.db.schema or "public")
        return conn

    async def _close_conn(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None or conn.is_closed():
            return
        try:
            async with asyncio.timeout(3):
                await conn.close()  # ends the session: its locks go with it
        except Exception:
            conn.terminate()

    async def _take_door(self) -> None:
        take = "pg_try_advisory_lock" if self.role == "poll" else "pg_try_advisory_lock_shared"
        if await self.conn.fetchval(f"SELECT {take}($1, $2)", self.ns, DOOR):
            return
        modes = {r["mode"] for r in await self.conn.fetch(_HOLDERS, self.ns, DOOR)}
        if self.role == "poll" and "ExclusiveLock" in modes:
            raise ReplicaRefused(
                "another `kierto-bot run` is already polling Telegram for this database; only "
                "one process may poll (for several, run `kierto-bot webhook` replicas)"
            )
        if self.role == "poll" and "ShareLock" in modes:
            raise ReplicaRefused(
                "`kierto-bot webhook` replicas are serving this database; a polling process "
                "would delete their webhook (stop them, or start this one as a webhook replica)"
            )
        if "ExclusiveLock" in modes:
            raise ReplicaRefused(
                "a `kierto-bot run` process is polling Telegram for this database; stop it "
                "before starting webhook replicas"
            )
        raise ReplicaRefused("another kierto-bot process holds this database; try again")

    async def _check_revision(self) -> None:
        if not await self.conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
            return
        version = await self.conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
        if version and version not in known_revisions():
            raise ReplicaRefused(
                f"DATABASE_URL: the database's schema is at revision {version}, which this "
                f"version of kierto-bot does not know (its newest is {self.fingerprint.schema_head}"
                "): a newer version has migrated it"
            )

    async def _check_peers(self) -> None:
        if not await self.conn.fetchval("SELECT to_regclass('replica') IS NOT NULL"):
            return  # a fresh database: nobody registered yet
        mine = self.fingerprint
        for peer in await self.conn.fetch(_PEERS, self.name, float(ALIVE)):
            name = peer["name"]
            if peer["knowledge"] != mine.knowledge:
                raise ReplicaRefused(
                    f"KNOWLEDGE_DIR: the knowledge base differs from running replica {name}'s "
                    f"(hash {mine.knowledge} here, {peer['knowledge']} there); every replica "
                    "must load the same knowledge files"
                )
            if peer["schema_head"] != mine.schema_head:
                raise ReplicaRefused(
                    f"the schema version differs from running replica {name}'s (Alembic head "
                    f"{mine.schema_head} here, {peer['schema_head']} there); stop the old "
                    "replicas before starting a new version"
                )
            if mine.role == "webhook" and peer["role"] == "webhook":
                if peer["webhook"] != mine.webhook:
                    raise ReplicaRefused(
                        f"WEBHOOK_URL / WEBHOOK_SECRET differ from running replica {name}'s; "
                        "every replica must set the same webhook"
                    )

    async def _register(self) -> None:
        fp = self.fingerprint
        await self.conn.execute(
            _REGISTER, self.name, fp.role, fp.knowledge, fp.schema_head, fp.webhook
        )

    # ------------------------------------------------------------------ while running

    async def retire(self) -> None:
        """Stop the jobs, then give the leader lock back on the next beat (woken now), so
        that another replica leads within `BEAT` s instead of after this one's exit."""
        await super().retire()
        if self._loop is None or self._loop.done():
            return
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), BEAT * 2)

    async def _beat(self) -> None:
        await self._register()
        if self.retiring:
            if self._holds_leader:
                await self.conn.execute("SELECT pg_advisory_unlock($1, $2)", self.ns, LEADER)
                self._holds_leader = False
                log.info("replica %s gave the once-only jobs up (stopping)", self.name)
            self._released.set()
        elif not self.leading.is_set() and await self.conn.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", self.ns, LEADER
        ):
            self._holds_leader = True
            self._lead()

    async def _run(self) -> None:
        while True:
            try:
                while True:
                    async with asyncio.timeout(BEAT * 2):
                        await self._beat()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), BEAT)
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, timed out, database restarting
                log.warning("replica %s lost its coordination connection: %r", self.name, exc)
                self._holds_leader = False  # the server drops it with the session
                await self._stop_jobs()
                if self.conn is not None:
                    self.conn.terminate()
                    self.conn = None
                if not await self._rejoin():
                    self.lost.set()
                    return

    async def _rejoin(self) -> bool:
        """Reconnect and take the door lock back. False when another process has it now
        (for a poller: someone else polls; this one must stop)."""
        delay, refused_since = 0.5, None
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                self.conn = await self._connect()
                await self._take_door()
                await self._register()
                log.info("replica %s has its coordination connection back", self.name)
                return True
            except ReplicaRefused as exc:
                # our old session may still hold the lock until the server notices it is gone
                refused_since = refused_since or time.monotonic()
                await self._close_conn()
                if time.monotonic() - refused_since > ALIVE:
                    log.error("replica %s must stop: %s", self.name, exc)
                    return False
            except Exception:  # still unreachable
                await self._close_conn()
