"""Test helpers: an event in the store, a broadcast, and "delivery" of the outbox's
rows into people's conversations (what the sender would do, without Telegram)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.app import App
from dialogs.haastepaja import jobs
from dialogs.haastepaja.segments import Segment
from dialogs.haastepaja.when import reminder_times
from dialogs.store.haastepaja import Broadcast, HaastepajaEvent
from dialogs.store.models import OutboxMessage, User
from dialogs.store.outbox import decode
from tests.conversation import Conversation, Message


async def people(app: App, *users: tuple[int, str, str | None, bool]) -> None:
    async with app.db.unit() as repo:
        for user_id, locale, role, invitations in users:
            repo.session.add(User(id=user_id, locale=locale, role=role, invitations=invitations))


async def make_event(
    app: App,
    now: datetime,
    *,
    starts_in: timedelta = timedelta(days=7),
    capacity: int | None = 2,
    deadline_in: timedelta | None = None,
    token: str = "tok3n_abc123",
    title: str = "Tekstiilihaaste",
) -> int:
    start = now + starts_in
    async with app.db.unit() as repo:
        event = HaastepajaEvent(
            title={"fi": title, "en": "Textile challenge"},
            description={"fi": "Tervetuloa ratkomaan.", "en": "Welcome to solve it."},
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            place="Nextiili, Tampere",
            capacity=capacity,
            deadline=now + deadline_in if deadline_in else None,
            token=token,
            created_by=7,
        )
        event.remind_24h_at, event.remind_2h_at = reminder_times(start, now)
        await repo.hp_events.add(event)
        return event.id or 0


EVERYONE = Segment()


async def broadcast(app: App, event_id: int, now: datetime, segment: Segment = EVERYONE) -> int:
    async with app.db.unit() as repo:
        b = await repo.broadcasts.add(
            Broadcast(event_id=event_id, segment=segment.as_json(), send_at=now, created_by=7)
        )
        event = await repo.hp_events.get(event_id)
        assert event is not None
        return await jobs.begin_broadcast(repo, app.i18n, b, event, now)


async def outbox(app: App, kind: str | None = None) -> list[OutboxMessage]:
    async with app.db.unit() as repo:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        rows = list((await repo.session.execute(query)).scalars())
        repo.session.expunge_all()
        return rows


async def deliver(
    app: App,
    chats: dict[int, Conversation],
    kind: str | None = None,
    blocked: frozenset = frozenset(),
) -> int:
    """Put each pending row into its recipient's conversation and mark it sent (or, for
    the chats in `blocked`, mark it as Telegram's 403 would)."""
    n = 0
    for row in await outbox(app, kind):
        if row.status != "pending":
            continue
        if row.chat_id in blocked:
            async with app.db.unit() as repo:
                await repo.outbox.claim(row.id or 0)
                await repo.outbox.blocked(row.id or 0)
            continue
        if row.chat_id not in chats:
            continue
        action = decode(row.chat_id, row.action)
        conv = chats[row.chat_id]
        mid = next(conv._ids)
        conv.messages[mid] = Message(mid, row.chat_id, action.text, action.keyboard)  # type: ignore[union-attr]
        async with app.db.unit() as repo:
            await repo.outbox.claim(row.id or 0)
            await repo.outbox.sent(row.id or 0, mid)
        n += 1
    return n
