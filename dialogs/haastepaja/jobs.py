"""What the scheduler fires, each in its own unit of work and safe to run again.

    start_broadcasts  a scheduled broadcast whose time has come: its audience is chosen
                      now (who is opted in *now*), one invitation per person is queued
    fire_reminders    24 h and 2 h before the start, to those going; the due time is a
                      column of the event, cleared in the same transaction as the queueing
    finish_reports    a broadcast with nothing left to send: its delivery report goes to
                      the staff member who sent it and to the staff chat, and the people
                      who turned out to have blocked the bot are marked so

Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two processes never fire
one thing twice; on SQLite one process serves the bot. All take `now` from the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialogs.actions import Send
from dialogs.haastepaja import deliver
from dialogs.haastepaja.changes import tell_people
from dialogs.haastepaja.invite import (
    Seats,
    invitation_keyboard,
    invitation_text,
    reminder_text,
)
from dialogs.haastepaja.segments import Segment, audience, load_profiles
from dialogs.store.db import Database
from dialogs.store.haastepaja import Broadcast, HaastepajaEvent
from dialogs.store.repo import Repository
from locales.i18n import I18n, Translator

log = logging.getLogger(__name__)
Translators = Callable[[str], Translator]


@dataclass(frozen=True)
class Started:
    broadcast_id: int
    queued: int


async def already_invited(repo: Repository, event_id: int) -> set[int]:
    """People who have an answer for this event: a second broadcast skips them."""
    return {r.user_id for r in await repo.rsvps.of_event(event_id)}


async def begin_broadcast(
    repo: Repository, tr: Translators, broadcast: Broadcast, event: HaastepajaEvent, now: datetime
) -> int:
    """Choose the audience now and queue one invitation per person; returns how many.
    `tr(lang)` gives each language's texts (the app's I18n, or `ctx.translator`)."""
    assert broadcast.id is not None and event.id is not None
    profiles = audience(Segment.from_json(broadcast.segment), await load_profiles(repo))
    skip = await already_invited(repo, event.id)
    counts = await repo.rsvps.counts(event.id)
    seats = Seats(counts["going"], counts["waitlist"])
    rendered: dict[str, tuple[str, tuple]] = {}
    messages: dict[int, Send] = {}
    for p in profiles:
        if p.user_id in skip:
            continue
        if p.locale not in rendered:
            t = tr(p.locale)
            rendered[p.locale] = (
                invitation_text(t, event, seats),
                invitation_keyboard(t, event, seats, None, False),
            )
        text, keyboard = rendered[p.locale]
        messages[p.user_id] = Send(p.user_id, text, keyboard)
    queued = await deliver.queue_broadcast(repo, broadcast.id, messages)
    broadcast.status, broadcast.started_at = "sending", now
    broadcast.recipients += queued
    return queued


async def start_broadcasts(db: Database, i18n: I18n, now: datetime) -> list[Started]:
    started: list[Started] = []
    async with db.unit() as repo:
        for broadcast in await repo.broadcasts.due(now):
            event = await repo.hp_events.get(broadcast.event_id)
            if event is None or event.status != "open" or event.starts_at <= now:
                broadcast.status = "cancelled"
                continue
            queued = await begin_broadcast(repo, i18n, broadcast, event, now)
            started.append(Started(broadcast.id or 0, queued))
            log.info("broadcast %s started: %d invitations queued", broadcast.id, queued)
    return started


async def fire_reminders(db: Database, i18n: I18n, now: datetime) -> int:
    sent = 0
    async with db.unit() as repo:
        for event, kind in await repo.hp_events.reminders_due(now):
            if kind == "24h":
                event.remind_24h_at = None
                # down for a day: the 2 h reminder says it all, one reminder is enough
                if now >= event.starts_at - timedelta(hours=2):
                    continue
            else:
                event.remind_2h_at = None
            if now >= event.starts_at:
                continue
            sent += await tell_people(
                repo, i18n, event, lambda t, e=event, k=kind: reminder_text(t, e, k), ("going",)
            )
    if sent:
        log.info("queued %d reminders", sent)
    return sent


def report_text(t: Translator, event: HaastepajaEvent, counts: dict[str, int]) -> str:
    title, _ = event.text("title", t.lang)
    return t._(
        "📬 <b>Delivery report</b>: {title}\nInvited {total}, delivered {sent}, blocked the "
        "bot {blocked}, failed {failed}, unknown (a restart hit mid-send, not resent) {unknown}.",
        title=title,
        total=sum(counts.values()),
        sent=counts["sent"],
        blocked=counts["blocked"],
        failed=counts["failed"],
        unknown=counts["unknown"],
    )


async def finish_reports(db: Database, i18n: I18n, staff_chat_id: int | None, now: datetime) -> int:
    """Mark finished broadcasts done and queue their delivery reports."""
    done = 0
    async with db.unit() as repo:
        for broadcast in await repo.broadcasts.sending():
            counts = await deliver.counts(repo, broadcast.id or 0)
            if any(counts[s] for s in deliver.PENDING):
                continue
            event = await repo.hp_events.get(broadcast.event_id)
            if event is None:
                continue
            await deliver.mark_blocked(repo, broadcast.id or 0)
            broadcast.status, broadcast.report_sent = "done", True
            broadcast.finished_at = now
            staff = await repo.users.get(broadcast.created_by)
            messages: list[tuple[int | None, Send]] = []
            if staff is not None:
                messages.append(
                    (staff.id, Send(staff.id, report_text(i18n(staff.locale), event, counts)))
                )
            if staff_chat_id is not None:
                messages.append(
                    (None, Send(staff_chat_id, report_text(i18n(i18n.default), event, counts)))
                )
            await deliver.queue_notices(repo, messages)
            done += 1
    return done


async def tick(db: Database, i18n: I18n, staff_chat_id: int | None, now: datetime) -> None:
    """One round of everything that is due (the scheduler calls this every few seconds)."""
    await start_broadcasts(db, i18n, now)
    await fire_reminders(db, i18n, now)
    await finish_reports(db, i18n, staff_chat_id, now)
