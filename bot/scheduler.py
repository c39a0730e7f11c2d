"""Maintenance on a schedule (APScheduler): keep the store from growing without bound.

Processed update ids are needed only as long as Telegram could redeliver an update (a day
at most); they are pruned after a week. Outbox rows that are finished (sent, blocked,
failed, unknown; they hold no text) go after a month, except staff-chat posts about a
person, which /forget needs. Once a day, data older than RETENTION_DAYS is removed
(dialogs/store/retention.py), and idle back office sessions and spent sign-in links are
dropped. Every few seconds the haastepaja's due work runs: scheduled broadcasts
start, reminders fire, finished broadcasts report (due times live in the store, so a
restart loses none and fires none twice).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from dialogs.haastepaja import clock, jobs
from dialogs.store.db import is_connection_error
from dialogs.store.models import utcnow

log = logging.getLogger(__name__)
KEEP_UPDATE_IDS = timedelta(days=7)
KEEP_OUTBOX = timedelta(days=30)
HAASTEPAJA_EVERY_S = 10
T = TypeVar("T")


def patient(job: Callable[[App], Awaitable[T]]) -> Callable[[App], Awaitable[T | None]]:
    """A job that meets a database outage logs one line and waits for its next run (it
    does its work then: due times live in the store); anything else is a bug, and the
    scheduler logs it whole."""

    @functools.wraps(job)
    async def run(app: App) -> T | None:
        try:
            return await job(app)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            log.warning(
                "%s: database unreachable (%s); trying at the next run",
                job.__name__,
                type(exc).__name__,
            )
            return None

    return run


@patient
async def prune(app: App) -> int:
    async with app.db.unit() as repo:
        removed = await repo.updates.prune(utcnow() - KEEP_UPDATE_IDS)
        sent = await repo.outbox.prune(utcnow() - KEEP_OUTBOX)
    log.info("pruned %d processed update ids and %d finished outbox rows", removed, sent)
    return removed


@patient
async def haastepaja_tick(app: App) -> None:
    await jobs.tick(app.db, app.i18n, app.settings.staff_chat_id, clock.now())


@patient
async def retention(app: App) -> dict[str, int]:
    from bot.backoffice.auth import SESSION_IDLE
    from dialogs.store.retention import purge

    async with app.db.unit() as repo:
        counts = await purge(repo, utcnow() - timedelta(days=app.settings.retention_days))
        await repo.sessions.prune(utcnow() - SESSION_IDLE)
        repo.audit.log("retention", subject=f"{app.settings.retention_days}d")
    log.info("retention: removed %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return counts


def start_maintenance(app: App) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Europe/Helsinki")
    scheduler.add_job(
        prune, "interval", hours=6, args=[app], id="prune-updates", coalesce=True, max_instances=1
    )
    scheduler.add_job(
        retention,
        "cron",
        hour=3,
        minute=30,
        args=[app],
        id="retention",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        haastepaja_tick,
        "interval",
        seconds=HAASTEPAJA_EVERY_S,
        args=[app],
        id="haastepaja",
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    return scheduler


async def maintenance(app: App, stop: asyncio.Event) -> None:
    """The maintenance schedule as a once-only job (bot/replicas.py): it runs in the one
    process that leads, until `stop`."""
    scheduler = start_maintenance(app)
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
