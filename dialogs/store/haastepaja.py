"""Haastepaja tables and their repository parts: events, RSVPs, attendee details, broadcasts.

An event's texts are stored per language (`{"fi": …, "en": …}`; Finnish always there).
Times are UTC; they are shown in Europe/Helsinki. Reminder due times are columns of the
event (`remind_*_at`, cleared once fired), so a restart fires what was due and nothing twice.
An RSVP is one row per (event, person); a waitlisted one carries its FIFO `position`.
Attendee details (name, company) exist only when the person agreed to share them, only for
that one event, and go with /forget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from dialogs.store.models import OutboxMessage, utcnow

EVENT_STATUSES = ("open", "cancelled")
RSVP_STATUSES = ("going", "not_going", "waitlist")
BROADCAST_STATUSES = ("scheduled", "sending", "paused", "done", "cancelled")


class HaastepajaEvent(SQLModel, table=True):
    __tablename__ = "haastepaja_events"

    id: int | None = Field(default=None, primary_key=True)
    title: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    description: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    starts_at: datetime = Field(index=True)
    ends_at: datetime
    place: str = Field(default="", max_length=300)
    online_url: str | None = Field(default=None, max_length=500)
    capacity: int | None = None
    deadline: datetime | None = None
    status: str = Field(default="open", max_length=16)  # open | cancelled
    token: str = Field(max_length=24, unique=True)  # check-in deep link: /start in_<token>
    created_by: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    remind_24h_at: datetime | None = Field(default=None, index=True)
    remind_2h_at: datetime | None = Field(default=None, index=True)

    def text(self, field: str, lang: str) -> tuple[str, bool]:
        """The text in `lang`, or the Finnish one and True (a translation is missing)."""
        texts: dict[str, str] = getattr(self, field)
        if texts.get(lang):
            return texts[lang], False
        return texts.get("fi", ""), lang != "fi"


class Rsvp(SQLModel, table=True):
    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="haastepaja_events.id", index=True)
    user_id: int = Field(sa_type=BigInteger, index=True)
    status: str = Field(max_length=16)  # going | not_going | waitlist
    position: int | None = None  # FIFO place on the waitlist
    message_id: int | None = None  # the invitation message, edited in place
    changed_at: datetime = Field(default_factory=utcnow)
    checked_in_at: datetime | None = None


class AttendeeDetails(SQLModel, table=True):
    """Name and company for one event's attendee list, given with consent."""

    __tablename__ = "attendee_details"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="haastepaja_events.id", index=True)
    user_id: int = Field(sa_type=BigInteger, index=True)
    name: str = Field(max_length=120)
    company: str = Field(default="", max_length=120)
    consent_at: datetime = Field(default_factory=utcnow)


class Broadcast(SQLModel, table=True):
    """One sending of an event's invitation to a segment, now or at `send_at`."""

    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="haastepaja_events.id", index=True)
    segment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    send_at: datetime = Field(default_factory=utcnow, index=True)
    status: str = Field(default="scheduled", max_length=16)
    recipients: int = 0  # deliveries written when it started
    created_by: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    report_sent: bool = False


class _Part:
    def __init__(self, session: AsyncSession, postgres: bool) -> None:
        self.s = session
        self.postgres = postgres


class Events(_Part):
    async def add(self, event: HaastepajaEvent) -> HaastepajaEvent:
        self.s.add(event)
        await self.s.flush()
        return event

    async def get(self, event_id: int, *, lock: bool = False) -> HaastepajaEvent | None:
        """The event; `lock` holds its row (PostgreSQL) so that two RSVPs for the last
        seat are decided one after the other."""
        query = select(HaastepajaEvent).where(HaastepajaEvent.id == event_id)
        if lock:
            query = query.with_for_update()
        return (await self.s.execute(query)).scalar_one_or_none()

    async def by_token(self, token: str) -> HaastepajaEvent | None:
        query = select(HaastepajaEvent).where(HaastepajaEvent.token == token)
        return (await self.s.execute(query)).scalar_one_or_none()

    async def listing(self, now: datetime, upcoming: bool, limit: int = 10) -> list:
        column = HaastepajaEvent.ends_at
        query = select(HaastepajaEvent).where(column >= now if upcoming else column < now)
        order = HaastepajaEvent.starts_at.asc() if upcoming else HaastepajaEvent.starts_at.desc()
        return list((await self.s.execute(query.order_by(order).limit(limit))).scalars())

    async def reminders_due(self, now: datetime) -> list[tuple[HaastepajaEvent, str]]:
        """Open events with a reminder due, locked so that one process fires each once."""
        out: list[tuple[HaastepajaEvent, str]] = []
        for kind, column in (
            ("24h", HaastepajaEvent.remind_24h_at),
            ("2h", HaastepajaEvent.remind_2h_at),
        ):
            query = (
                select(HaastepajaEvent)
                .where(column <= now, HaastepajaEvent.status == "open")
                .with_for_update(skip_locked=True)
            )
            out += [(e, kind) for e in (await self.s.execute(query)).scalars()]
        return out


class Rsvps(_Part):
    async def get(self, event_id: int, user_id: int) -> Rsvp | None:
        query = select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.user_id == user_id)
        return (await self.s.execute(query)).scalar_one_or_none()

    async def of_event(self, event_id: int, status: str | None = None) -> list[Rsvp]:
        query = select(Rsvp).where(Rsvp.event_id == event_id)
        if status is not None:
            query = query.where(Rsvp.status == status)
        query = query.order_by(Rsvp.position.asc(), Rsvp.changed_at.asc(), Rsvp.id.asc())
        return list((await self.s.execute(query)).scalars())

    async def counts(self, event_id: int) -> dict[str, int]:
        query = (
            select(Rsvp.status, func.count()).where(Rsvp.event_id == event_id).group_by(Rsvp.status)
        )
        counts = {status: 0 for status in RSVP_STATUSES}
        counts.update({status: n for status, n in (await self.s.execute(query)).all()})
        query = select(func.count()).where(
            Rsvp.event_id == event_id, Rsvp.checked_in_at.is_not(None)
        )
        counts["checked_in"] = (await self.s.execute(query)).scalar_one()
        return counts

    async def next_position(self, event_id: int) -> int:
        query = select(func.max(Rsvp.position)).where(Rsvp.event_id == event_id)
        return ((await self.s.execute(query)).scalar_one() or 0) + 1

    async def put(self, rsvp: Rsvp) -> Rsvp:
        self.s.add(rsvp)
        await self.s.flush()
        return rsvp

    async def of_user(self, user_id: int) -> list[Rsvp]:
        return list((await self.s.execute(select(Rsvp).where(Rsvp.user_id == user_id))).scalars())


class Attendees(_Part):
    async def get(self, event_id: int, user_id: int) -> AttendeeDetails | None:
        query = select(AttendeeDetails).where(
            AttendeeDetails.event_id == event_id, AttendeeDetails.user_id == user_id
        )
        return (await self.s.execute(query)).scalar_one_or_none()

    async def put(self, event_id: int, user_id: int, name: str, company: str) -> None:
        details = await self.get(event_id, user_id)
        if details is None:
            self.s.add(
                AttendeeDetails(event_id=event_id, user_id=user_id, name=name, company=company)
            )
        else:
            details.name, details.company, details.consent_at = name, company, utcnow()
        await self.s.flush()

    async def drop(self, event_id: int, user_id: int) -> None:
        await self.s.execute(
            delete(AttendeeDetails).where(
                AttendeeDetails.event_id == event_id, AttendeeDetails.user_id == user_id
            )
        )

    async def of_event(self, event_id: int) -> dict[int, AttendeeDetails]:
        query = select(AttendeeDetails).where(AttendeeDetails.event_id == event_id)
        return {d.user_id: d for d in (await self.s.execute(query)).scalars()}

    async def of_user(self, user_id: int) -> list[AttendeeDetails]:
        query = select(AttendeeDetails).where(AttendeeDetails.user_id == user_id)
        return list((await self.s.execute(query)).scalars())


class Broadcasts(_Part):
    async def add(self, broadcast: Broadcast) -> Broadcast:
        self.s.add(broadcast)
        await self.s.flush()
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self.s.get(Broadcast, broadcast_id)

    async def of_event(self, event_id: int) -> list[Broadcast]:
        query = select(Broadcast).where(Broadcast.event_id == event_id).order_by(Broadcast.id)
        return list((await self.s.execute(query)).scalars())

    async def due(self, now: datetime) -> list[Broadcast]:
        """Scheduled broadcasts whose time has come, locked so one process starts each."""
        query = (
            select(Broadcast)
            .where(Broadcast.status == "scheduled", Broadcast.send_at <= now)
            .order_by(Broadcast.send_at)
            .with_for_update(skip_locked=True)
        )
        return list((await self.s.execute(query)).scalars())

    async def sending(self) -> list[Broadcast]:
        query = (
            select(Broadcast)
            .where(Broadcast.status == "sending", Broadcast.report_sent.is_(False))
            .with_for_update(skip_locked=True)  # one process reports each
        )
        return list((await self.s.execute(query)).scalars())

    async def delivered(self, event_id: int) -> dict[int, tuple[int, int]]:
        """The event's delivered invitations: user id -> (chat id, Telegram's message id)."""
        query = (
            select(OutboxMessage.user_id, OutboxMessage.chat_id, OutboxMessage.sent_message_id)
            .join(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
            .where(
                Broadcast.event_id == event_id,
                OutboxMessage.status == "sent",
                OutboxMessage.sent_message_id.is_not(None),
                OutboxMessage.user_id.is_not(None),
            )
        )
        rows = (await self.s.execute(query)).all()
        return {int(user): (int(chat), int(message)) for user, chat, message in rows}

    async def set_status(self, broadcast_id: int, status: str) -> None:
        await self.s.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(status=status)
        )


async def forget(session: AsyncSession, user_id: int) -> None:
    """Erase one person's RSVPs and attendee details (part of /forget)."""
    for model in (AttendeeDetails, Rsvp):
        await session.execute(delete(model).where(model.user_id == user_id))
