"""Several processes on one store (bot/replicas.py): one poller, one leader for the
once-only jobs, and no replica beside a different knowledge base, schema or webhook.

The replicas here are objects in one process, each with its own connection, which is what
PostgreSQL sees of separate processes; tests/test_replica_cluster.py runs real ones."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import Settings
from bot.replicas import Replica, ReplicaRefused, SqliteReplica, make_replica
from dialogs.store.db import Database
from tests.conftest import REDIS_URL, _drop_schema, _pg_database, service_missing
from tests.tcp_proxy import TcpProxy

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
TOKEN = "123456:TEST-replicas"


def settings_for(db_url: str, **kw: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "bot_token": TOKEN,
        "webhook_url": "https://bot.example.org/tg",
        "webhook_secret": "same-secret-for-all",
        "knowledge_dir": KNOWLEDGE,
    }
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
async def pg() -> AsyncIterator[tuple[Database, str]]:
    db, schema = await _pg_database()
    try:
        yield db, schema
    finally:
        await db.dispose()
        await _drop_schema(schema)


class Started:
    """Replicas started in a test, closed at its end."""

    def __init__(self) -> None:
        self.replicas: list[Replica] = []
        self.dbs: list[Database] = []

    async def start(
        self, schema: str | None, role: str, url: str | None = None, **kw: object
    ) -> Replica:
        from tests.conftest import PG_URL

        db = Database(url or PG_URL, schema=schema)
        self.dbs.append(db)
        replica = make_replica(settings_for(url or PG_URL, **kw), db, role)
        await replica.join()
        self.replicas.append(replica)
        async with replica.migrating():
            await db.migrate()
        await replica.start()
        return replica

    async def close(self) -> None:
        for replica in self.replicas:
            await replica.close()
        for db in self.dbs:
            await db.dispose()


@pytest.fixture
async def started() -> AsyncIterator[Started]:
    s = Started()
    try:
        yield s
    finally:
        await s.close()


async def eventually(predicate: Callable[[], object], seconds: float = 15.0) -> None:
    """Wait for `predicate()`; the limit is a safety net, not a timing claim."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - state of other objects, polled
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------------- the door lock


async def test_a_second_poller_refuses_to_start(pg, started: Started) -> None:
    _, schema = pg
    await started.start(schema, "poll")
    with pytest.raises(ReplicaRefused, match="already polling Telegram for this database"):
        await started.start(schema, "poll")


async def test_pollers_and_webhook_replicas_exclude_each_other(pg, started: Started) -> None:
    _, schema = pg
    first = await started.start(schema, "webhook")
    await started.start(schema, "webhook")  # any number of webhook replicas
    with pytest.raises(ReplicaRefused, match="webhook` replicas are serving this database"):
        await started.start(schema, "poll")
    for replica in list(started.replicas):
        await replica.close()
    started.replicas.clear()
    await started.start(schema, "poll")
    with pytest.raises(ReplicaRefused, match="is polling Telegram for this database"):
        await started.start(schema, "webhook")
    assert first.conn is None  # closed: its locks went with its session


async def test_locks_belong_to_one_store(started: Started) -> None:
    """Two schemas (two deployments, or two tests) on one server do not share locks."""
    a, schema_a = await _pg_database()
    b, schema_b = await _pg_database()
    try:
        await started.start(schema_a, "poll")
        await started.start(schema_b, "poll")
    finally:
        await started.close()
        started.replicas.clear()
        for db in (a, b):
            await db.dispose()
        await _drop_schema(schema_a)
        await _drop_schema(schema_b)


# ---------------------------------------------------------------------- the leader


def job_recorder(log: list[str], name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def job(stop: asyncio.Event) -> None:
        log.append(f"start {name}")
        try:
            await stop.wait()
        finally:
            log.append(f"stop {name}")

    return job


def running(log: list[str]) -> set[str]:
    now: set[str] = set()
    for entry in log:
        verb, name = entry.split()
        (now.add if verb == "start" else now.discard)(name)
    return now


async def test_one_leader_runs_the_jobs_and_another_takes_over(pg, started: Started) -> None:
    _, schema = pg
    log: list[str] = []
    replicas = [await started.start(schema, "webhook") for _ in range(3)]
    for i, replica in enumerate(replicas):
        replica.run_once(job_recorder(log, f"r{i}"))
    await eventually(lambda: len(running(log)) == 1)
    await asyncio.sleep(0.5)  # a second leader would have started by now
    assert len(running(log)) == 1
    assert sum(r.leading.is_set() for r in replicas) == 1
    leader = next(r for r in replicas if r.leading.is_set())
    await leader.close()
    await eventually(lambda: len(running(log)) == 1 and not leader.leading.is_set())
    assert f"stop r{replicas.index(leader)}" in log
    assert sum(r.leading.is_set() for r in replicas if r is not leader) == 1


async def test_a_stopping_leader_hands_the_jobs_over_before_it_exits(pg, started: Started) -> None:
    """retire() (SIGTERM): the leader's jobs stop and another replica leads within a
    beat or two, while the stopping one is still connected (draining)."""
    from bot.replicas_pg import PgReplica

    _, schema = pg
    log: list[str] = []
    replicas = [await started.start(schema, "webhook") for _ in range(2)]
    for i, replica in enumerate(replicas):
        replica.run_once(job_recorder(log, f"r{i}"))
    await eventually(lambda: len(running(log)) == 1)
    leader = next(r for r in replicas if r.leading.is_set())
    other = next(r for r in replicas if r is not leader)
    await leader.retire()
    assert isinstance(leader, PgReplica) and leader.conn is not None  # still connected
    assert f"stop r{replicas.index(leader)}" in log
    await eventually(lambda: other.leading.is_set(), 10)
    await asyncio.sleep(2.5)  # a beat later the retired one has not come back
    assert not leader.leading.is_set() and running(log) == {f"r{replicas.index(other)}"}


async def test_a_lost_connection_stops_the_jobs_and_the_leadership_moves(
    pg, started: Started
) -> None:
    from tests.conftest import PG_URL

    _, schema = pg
    host_port = PG_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = await TcpProxy(host, int(port or 5432)).start()
    try:
        through_proxy = PG_URL.replace(host_port, f"127.0.0.1:{proxy.port}")
        log: list[str] = []
        cut_off = await started.start(schema, "webhook", url=through_proxy)
        cut_off.run_once(job_recorder(log, "cut"))
        await eventually(lambda: running(log) == {"cut"})
        other = await started.start(schema, "webhook")
        other.run_once(job_recorder(log, "other"))
        proxy.cut()
        await eventually(lambda: running(log) == {"other"})
        assert log.index("stop cut") < log.index("start other") or "stop cut" in log
        proxy.restore()
        await eventually(lambda: cut_off.conn is not None)  # it rejoins, as a follower
        await asyncio.sleep(0.5)
        assert running(log) == {"other"} and not cut_off.lost.is_set()
    finally:
        await proxy.stop()


# ---------------------------------------------------------------------- fingerprints


async def test_a_different_knowledge_base_is_refused(pg, started: Started, tmp_path) -> None:
    _, schema = pg
    await started.start(schema, "webhook")
    other_kb = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, other_kb)
    faq = next(other_kb.rglob("*.yaml"))
    faq.write_text(faq.read_text() + "\n# edited\n")
    with pytest.raises(ReplicaRefused, match="KNOWLEDGE_DIR: the knowledge base differs"):
        await started.start(schema, "webhook", knowledge_dir=other_kb)


async def test_a_different_schema_head_or_webhook_is_refused(
    pg, started: Started, monkeypatch
) -> None:
    _, schema = pg
    await started.start(schema, "webhook")
    with pytest.raises(ReplicaRefused, match="WEBHOOK_URL / WEBHOOK_SECRET differ"):
        await started.start(schema, "webhook", webhook_secret="another-secret-0123456789")
    monkeypatch.setattr("bot.replicas.schema_head", lambda: "0099_newer")
    with pytest.raises(ReplicaRefused, match="Alembic head 0099_newer here, 0005_replicas there"):
        await started.start(schema, "webhook")


async def test_a_schema_migrated_by_a_newer_version_is_refused(pg, started: Started) -> None:
    db, schema = pg
    await db.migrate()
    async with db.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    with pytest.raises(ReplicaRefused, match="schema is at revision 0099_newer"):
        await started.start(schema, "webhook")


async def test_sqlite_serves_one_process(tmp_path: Path, started: Started) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    first = await started.start(None, "poll", url=url)
    assert isinstance(first, SqliteReplica) and first.leading.is_set()
    with pytest.raises(ReplicaRefused, match="SQLite serves one process"):
        await started.start(None, "webhook", url=url)
    await started.start(None, "poll", url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")


async def test_a_replica_on_another_database_is_refused_through_redis(
    pg, started: Started, tmp_path: Path
) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        service_missing(f"Redis at {REDIS_URL}", str(exc))
    finally:
        await client.aclose()
    _, schema = pg
    await started.start(schema, "webhook", redis_url=REDIS_URL)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    with pytest.raises(ReplicaRefused, match=r"DATABASE_URL: this replica's store \(sqlite"):
        await started.start(None, "webhook", url=url, redis_url=REDIS_URL)


# ---------------------------------------------------------------------- the command line


def test_a_webhook_replica_without_its_secret_says_so_before_the_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/tg")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    assert main(["webhook"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "WEBHOOK_SECRET: required for the webhook" in err


async def fresh_database() -> str:
    """A database of its own (a subprocess cannot be given a schema), as a URL."""
    import uuid

    import asyncpg

    from tests.conftest import PG_URL

    name = f"kb_replicas_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing(f"PostgreSQL at {PG_URL}", str(exc))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    import asyncpg

    from tests.conftest import PG_URL

    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


async def test_a_second_kierto_bot_run_refuses_with_one_line(
    started: Started, tmp_path: Path
) -> None:
    import os
    import sys

    url = await fresh_database()
    try:
        await started.start(None, "poll", url=url)  # the first poller, as another process would
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "DATABASE_URL": url,
            "TELEGRAM_API_URL": "http://127.0.0.1:1",  # never reached: refused before
            "KNOWLEDGE_DIR": str(KNOWLEDGE),
            "LOG_LEVEL": "WARNING",
        }
        for name in ("REDIS_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "HEALTH_LISTEN"):
            env.pop(name, None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 2, err.decode()
        assert err.decode().strip() == (
            "kierto-bot: cannot start: another `kierto-bot run` is already polling Telegram "
            "for this database; only one process may poll (for several, run `kierto-bot "
            "webhook` replicas)"
        )
    finally:
        await started.close()
        started.replicas.clear()
        await drop_database(url)


# ---------------------------------------------------------------------- the outbox loop


async def test_only_the_leader_drains_the_outbox_and_live_sends_are_not_recovered(
    fake_telegram, tmp_path: Path, make_app
) -> None:
    """Every replica runs the outbox loop, but only the one leading recovers and drains
    (serve._follow); with replicas a row "sending" is recovered only once it has been in
    flight longer than any one attempt (another live replica may be sending it)."""
    from datetime import timedelta

    from sqlalchemy import update

    from dialogs.actions import Send
    from dialogs.store.models import OutboxMessage, utcnow
    from dialogs.store.outbox import encode
    from tests.adapters.test_runtimes import settings_for as door_settings
    from tests.adapters.test_runtimes import start, stop

    app = await make_app(door_settings(fake_telegram, tmp_path))
    aino = fake_telegram.user(34, language_code="en")
    async with app.db.unit() as repo:
        left = await repo.outbox.add(34, encode(Send(34, "waiting for the leader")), user_id=34)
        live = await repo.outbox.add(34, encode(Send(34, "being sent by another replica")))
        await repo.outbox.claim(live)
        # untried rows younger than 30 s belong to their replica's fast path; this one's
        # replica died a minute ago
        await repo.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == left)
            .values(created_at=utcnow() - timedelta(minutes=1))
        )
    bot = await start(fake_telegram, app, "aiogram", poll=False)
    outbox = bot.door.outbox
    outbox.interval = 0.05
    outbox.in_flight_limit = timedelta(minutes=2)
    rounds = 0
    write_marks = outbox._write_marks

    async def counted() -> None:
        nonlocal rounds
        rounds += 1
        await write_marks()

    outbox._write_marks = counted  # type: ignore[method-assign]
    leading = False
    runner = asyncio.create_task(outbox.run(lambda: leading))
    try:
        await eventually(lambda: rounds >= 3)  # three rounds as a follower
        assert aino.bot_messages == []
        leading = True
        await fake_telegram.wait_until(lambda: len(aino.bot_messages) == 1)
        assert aino.bot_messages[0].content == "waiting for the leader"
        seen = rounds
        await eventually(lambda: rounds >= seen + 2)  # its mark is written by now
        async with app.db.unit() as repo:
            assert await repo.outbox.counts() == {"sent": 1, "sending": 1}
            # the live send's replica died: the row is older than the limit now
            old = utcnow() - timedelta(minutes=3)
            await repo.session.execute(
                update(OutboxMessage).where(OutboxMessage.id == live).values(updated_at=old)
            )
        seen = rounds
        await eventually(lambda: rounds >= seen + 2)
        async with app.db.unit() as repo:
            assert await repo.outbox.counts() == {"sent": 1, "unknown": 1}
        assert [m.content for m in aino.bot_messages] == ["waiting for the leader"]
    finally:
        bot.door.stopping.set()
        await runner
        await stop(bot)
        await app.close()
