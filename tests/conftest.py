"""Shared fixtures: a fresh store (SQLite, or PostgreSQL for the `pg` variants), the
knowledge base and a wired engine.

PostgreSQL tests use TEST_DATABASE_URL (default: the local server CI provides). On a laptop
without it they skip, saying why; with CI=true they fail instead, so CI never passes
without having run them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.config import Settings
from dialogs.faq_match import FaqMatcher
from dialogs.store.db import Database
from knowledge.loader import Knowledge, load
from locales.i18n import I18n
from tests.conversation import Conversation
from tests.fake_telegram import fake_telegram as _fake_telegram

os.environ.setdefault("PTB_TIMEDELTA", "1")  # as bot.adapters.ptb_runtime sets it
fake_telegram = pytest.fixture(_fake_telegram)

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str, reason: str) -> None:
    message = f"{what} not reachable ({reason}); set the URL or start it to run these tests"
    if IN_CI:
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    """The shipped knowledge base with a filled-in operator profile whose staff answer (a
    deployed bot); `example_kb` is the shipped example as it is, with nobody answering."""
    from tests.knowledge.test_operator import copy_kb

    return load(copy_kb(tmp_path_factory.mktemp("kb") / "knowledge"))


@pytest.fixture(scope="session")
def example_kb() -> Knowledge:
    return load()


async def _pg_database() -> tuple[Database, str]:
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing(f"PostgreSQL at {PG_URL}", str(exc) or type(exc).__name__)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return Database(PG_URL, schema=schema), schema


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "pg"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await db.migrate()
        yield db
        await db.dispose()
        return
    async with migrated_pg() as db:
        yield db


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """A migrated, empty PostgreSQL database (a schema of its own)."""
    async with migrated_pg() as db:
        yield db


@contextlib.asynccontextmanager
async def migrated_pg() -> AsyncIterator[Database]:
    db, schema = await _pg_database()
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()
        await _drop_schema(schema)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        admin_ids="7",
        staff_chat_id=-100500,
    )


@pytest.fixture(scope="session")
def i18n() -> I18n:
    return I18n()


@pytest.fixture(scope="session")
def matcher(kb: Knowledge) -> FaqMatcher:
    return FaqMatcher(kb.faq, kb.synonyms.concepts)


@pytest.fixture
def make_app(kb: Knowledge, i18n: I18n, matcher: FaqMatcher) -> Callable[..., Awaitable[App]]:
    """`await make_app(settings)`: an app sharing the session's read-only parts."""

    async def make(settings: Settings, **kw: object) -> App:
        return await build_app(settings, kb=kb, i18n=i18n, matcher=matcher, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def app(settings: Settings, make_app: Callable[..., Awaitable[App]]) -> AsyncIterator[App]:
    app = await make_app(settings)
    yield app
    await app.close()


@pytest.fixture
def chat(app: App) -> Callable[..., Conversation]:
    """`chat(user_id=42, lang="en")` -> a Conversation with the app's engine."""

    def make(user_id: int = 42, lang: str | None = "fi", **kw: object) -> Conversation:
        return Conversation(app.engine, user_id=user_id, lang=lang, **kw)  # type: ignore[arg-type]

    return make
