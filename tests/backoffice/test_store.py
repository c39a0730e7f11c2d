"""The back office's store work on both databases: sign-in tokens, sessions, filters,
exports, retention and /forget (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl

from dialogs import stats
from dialogs.render import exports
from dialogs.store.db import Database
from dialogs.store.models import utcnow
from dialogs.store.retention import purge
from knowledge.loader import Knowledge
from tests.backoffice.seed import seed


async def test_tokens_and_sessions(any_db: Database) -> None:
    async with any_db.unit() as repo:
        await repo.users.lock(5, "fi")
        token = await repo.logins.issue(5)
    async with any_db.unit() as repo:
        assert await repo.logins.redeem(token) == 5
    async with any_db.unit() as repo:
        assert await repo.logins.redeem(token) is None  # once
        assert await repo.logins.redeem("nope") is None
        cookie, session = await repo.sessions.start(5)
    async with any_db.unit() as repo:
        found = await repo.sessions.get(cookie, timedelta(minutes=30))
        assert found is not None and found.user_id == 5 and found.csrf == session.csrf
        assert await repo.sessions.get(cookie, timedelta(seconds=-1)) is None  # idle: gone
    async with any_db.unit() as repo:
        assert await repo.sessions.get(cookie, timedelta(minutes=30)) is None


async def test_filters_exports_retention_and_forget(any_db: Database, kb: Knowledge) -> None:
    await seed(any_db, kb)
    filters, bad = stats.Filters.parse(
        {"q": "PIRKAN", "industry": "manufacturing", "score_min": "0", "status": "finished"}, kb
    )
    assert not bad
    async with any_db.unit() as repo:
        found = await stats.rows(repo, filters)
        board = await stats.dashboard(repo, kb)
        data = await exports.export(repo, kb, "xlsx", filters)
    assert [r.company.name for r in found] == ["Pirkan Puu Oy"]
    assert board.finished == 13 and board.started == 14
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert [r[1] for r in book["companies"].iter_rows(min_row=2, values_only=True)] == [
        "Pirkan Puu Oy"
    ]
    async with any_db.unit() as repo:
        await repo.forget(1001)
    async with any_db.unit() as repo:
        assert await stats.rows(repo, filters) == []
        counts = await purge(repo, utcnow() + timedelta(days=1))
    assert counts["users"] >= 10
    async with any_db.unit() as repo:
        assert await stats.rows(repo) == []
