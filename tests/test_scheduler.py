"""The scheduled jobs through a database outage: one line each, and the next run works."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import scheduler
from bot.app import App


class Unreachable:
    """A database whose every unit fails as an unreachable server does."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.down = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[Any]:
        if self.down:
            raise ConnectionRefusedError("connection refused")
        async with self.db.unit() as repo:
            yield repo


@pytest.mark.parametrize("job", ["prune", "retention", "haastepaja_tick"])
async def test_a_job_that_meets_an_outage_logs_one_line_and_runs_next_time(
    app: App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    down = Unreachable(app.db)
    monkeypatch.setattr(app, "db", down)
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        assert await getattr(scheduler, job)(app) is None
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.scheduler"]
        assert lines == [
            f"{job}: database unreachable (ConnectionRefusedError); trying at the next run"
        ]
        down.down = False
        await getattr(scheduler, job)(app)  # the next run does its work
        warned = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warned) == 1


async def test_a_bug_in_a_job_is_not_taken_for_an_outage(app: App) -> None:
    @scheduler.patient
    async def broken(_: App) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await broken(app)
