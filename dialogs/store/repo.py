"""Repository: one object per unit of work, with a property per table.

Methods add, change and flush; they never commit. `Database.unit()` commits once, after the
whole event has been handled.

The statements every event runs (the update id, the user with their dialog state, the
dialog state written back, the kartoitus answers, the outbox's rows) run as plain SQL on
the unit's own connection (`dialogs.store.raw.RawLane`): through SQLAlchemy each cost more
CPU than the database took to run it. The user is then put in the session as if the ORM
had loaded it (so changes to it are flushed as before); the dialog state is kept out of
the session and written back with one UPDATE, only if it changed, when the unit commits
(`Repository.finish`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.orm.util import identity_key

from dialogs.store import haastepaja
from dialogs.store.models import (
    Answer,
    Assessment,
    AuditEntry,
    Company,
    ContactRequest,
    DialogState,
    FaqMiss,
    PlacementInterest,
    PlacementVote,
    ProcessedUpdate,
    Ticket,
    User,
    utcnow,
)
from dialogs.store.outbox import Outbox
from dialogs.store.raw import RawLane, dumps

INT32_MAX = 2**31 - 1  # the row ids the tables number themselves (SERIAL on PostgreSQL)
INT64_MAX = 2**63 - 1  # Telegram ids (BIGINT)


def row_id_ok(value: int) -> bool:
    """Is `value` an id a table could hold? Ids come from button payloads and staff
    commands, which can be forged: checked before any query, so PostgreSQL never sees an
    out-of-range integer (which fails the statement, and with it the whole event)."""
    return 0 < value <= INT32_MAX


def telegram_id_ok(value: int) -> bool:
    return -INT64_MAX <= value <= INT64_MAX


def _prepared(build: Callable[[bool], Any]) -> Callable[[bool], Any]:
    """A statement built once per dialect (`build(postgres)`), run with bound values."""
    return functools.cache(build)


_MARK_UPDATE = (
    "INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
)
# the user, locked (PostgreSQL), and their dialog state (or NULLs) in one statement
_USER_AND_STATE = (
    "SELECT u.id, u.locale, u.locale_chosen, u.roles, u.role, u.invitations, u.blocked, "
    "u.created_at, u.last_seen_at, s.user_id, s.flow, s.step, s.data, s.updated_at "
    "FROM users u LEFT OUTER JOIN dialog_states s ON s.user_id = u.id WHERE u.id = ?"
)
# PostgreSQL: the update id recorded and the user locked and read with their state in one
# round trip (`Updates.mark(…, user_id=…)`); the first column says whether it was new
_MARK_AND_LOCK = (
    "WITH mark AS (INSERT INTO processed_updates (update_id, processed_at) VALUES (?, ?) "
    "ON CONFLICT DO NOTHING RETURNING 1), "
    "u AS (SELECT id, locale, locale_chosen, roles, role, invitations, blocked, created_at, "
    "last_seen_at FROM users WHERE id = ? FOR UPDATE) "
    "SELECT (SELECT count(*) FROM mark), u.id, u.locale, u.locale_chosen, u.roles, u.role, "
    "u.invitations, u.blocked, u.created_at, u.last_seen_at, s.user_id, s.flow, s.step, "
    "s.data, s.updated_at FROM (SELECT 1) AS one LEFT OUTER JOIN u ON true "
    "LEFT OUTER JOIN dialog_states s ON s.user_id = u.id"
)
_SAVE_STATE = (
    "UPDATE dialog_states SET flow = ?, step = ?, data = ?, updated_at = ? WHERE user_id = ?"
)


# replies per INSERT (9 values each: well under the drivers' limits of parameters)
REPLIES_AT_ONCE = 500


@functools.cache
def _with_states(count: int) -> str:
    """PostgreSQL: `count` dialog state UPDATEs as data-modifying CTEs, to precede a write."""
    return "WITH " + ", ".join(f"s{n} AS ({_SAVE_STATE})" for n in range(count)) + " "


_PUT_ANSWER = (
    "INSERT INTO answers (assessment_id, question_id, version, value, text, answered_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assessment_id, question_id) DO UPDATE SET "
    "version = excluded.version, value = excluded.value, text = excluded.text, "
    "answered_at = excluded.answered_at"
)
_ANSWER_VALUES = "SELECT question_id, value, text FROM answers WHERE assessment_id = ?"
# PostgreSQL: one answer written and all of the assessment's read back in one round trip.
# The SELECT sees the table as it was before the statement, so the answer overwritten is left
# out of it and comes from the INSERT's RETURNING instead.
_PUT_ANSWER_AND_READ = (
    f"WITH put AS ({_PUT_ANSWER} RETURNING question_id, value, text) "
    "SELECT question_id, value, text FROM answers WHERE assessment_id = ? AND question_id <> ? "
    "UNION ALL SELECT question_id, value, text FROM put"
)


@_prepared
def _answers_of(postgres: bool) -> Any:
    return select(Answer).where(Answer.assessment_id == bindparam("assessment_id"))


_USERS = manager_of_class(User)
_STATES = manager_of_class(DialogState)


class _Table:
    def __init__(self, session: AsyncSession, postgres: bool, raw: RawLane | None = None) -> None:
        self.s = session
        self.postgres = postgres
        self.raw = raw if raw is not None else RawLane(session, postgres)

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self.postgres else sqlite_insert)(table)


class Users(_Table):
    async def get(self, user_id: int) -> User | None:
        return await self.s.get(User, user_id) if telegram_id_ok(user_id) else None

    async def lock(self, user_id: int, locale: str) -> tuple[User, bool]:
        """The user's row, created on first contact and locked for this transaction
        (on PostgreSQL), so that two processes never handle one user at the same time."""
        user, _, created = await self.lock_with_state(user_id, locale)
        return user, created

    async def lock_with_state(
        self, user_id: int, locale: str
    ) -> tuple[User, DialogState | None, bool]:
        """`lock`, and the user's dialog state (None: none yet) in the same statement.
        The state is not in the session: `Repository.finish` writes it back if changed."""
        query = _USER_AND_STATE + (" FOR UPDATE OF u" if self.postgres else "")
        known = self.raw.locked_users.pop(user_id, None)  # read with the update id
        rows = [known] if known is not None else await self.raw.fetch(query, (user_id,))
        created = False
        if not rows:  # first contact
            stmt = self._insert(User).values(id=user_id, locale=locale).on_conflict_do_nothing()
            created = (await self.s.execute(stmt)).rowcount == 1
            rows = await self.raw.fetch(query, (user_id,))
        row = rows[0]
        return self._user(row), self._state(row), created

    def _user(self, row: Any) -> User:
        """The user as if the ORM had loaded it: in the session, changes flushed."""
        session = self.s.sync_session
        known = session.identity_map.get(identity_key(User, row[0]))
        if known is not None:
            return known
        raw = self.raw
        user = _USERS.new_instance()  # as the ORM makes a row's object: no __init__
        user.__dict__.update(
            id=row[0],
            locale=row[1],
            locale_chosen=bool(row[2]),
            roles=row[3],
            role=row[4],
            invitations=bool(row[5]),
            blocked=bool(row[6]),
            created_at=raw.read_time(row[7]),
            last_seen_at=raw.read_time(row[8]),
        )
        make_transient_to_detached(user)  # persistent once added, with no pending changes
        session.add(user)
        return user

    def _state(self, row: Any) -> DialogState | None:
        """The dialog state, outside the session (`Repository.finish` writes it back)."""
        if row[9] is None:
            return None
        raw = self.raw
        state = _STATES.new_instance()
        data = raw.json(row[12])
        updated_at = raw.read_time(row[13])
        state.__dict__.update(
            user_id=row[9], flow=row[10], step=row[11], data=data, updated_at=updated_at
        )
        raw.detached_states.append((state, (row[10], row[11], data, updated_at)))
        return state

    async def with_role(self, role: str) -> list[User]:
        rows = await self.s.execute(select(User).where(User.roles.contains(role)))
        return [u for u in rows.scalars() if u.has_role(role)]

    async def set_blocked(self, user_id: int, blocked: bool = True) -> None:
        await self.s.execute(update(User).where(User.id == user_id).values(blocked=blocked))


class States(_Table):
    async def get(self, user_id: int) -> DialogState:
        state = await self.s.get(DialogState, user_id)
        if state is None:
            state = DialogState(user_id=user_id)
            self.s.add(state)
        return state


class Updates(_Table):
    async def mark(self, update_id: int, user_id: int | None = None) -> bool:
        """Record an update id; False when it was handled before (a redelivery).
        With `user_id`, on PostgreSQL, the same round trip also locks and reads that user
        and their dialog state for `users.lock_with_state` (a statement fewer)."""
        raw = self.raw
        at = raw.time(utcnow())
        if user_id is None or not self.postgres:
            return await raw.execute(_MARK_UPDATE, (update_id, at)) == 1
        row = (await raw.fetch(_MARK_AND_LOCK, (update_id, at, user_id)))[0]
        if row[1] is not None:  # the user exists (else lock_with_state creates them)
            raw.locked_users[user_id] = row[1:]
        return row[0] == 1

    async def prune(self, before: datetime) -> int:
        result = await self.s.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
        )
        return result.rowcount or 0


class Audit(_Table):
    def log(
        self,
        action: str,
        subject: str = "",
        actor_id: int | None = None,
        about_user_id: int | None = None,
    ) -> None:
        self.s.add(
            AuditEntry(
                action=action[:32],
                subject=subject[:64],
                actor_id=actor_id,
                about_user_id=about_user_id,
            )
        )

    async def prune(self, before: datetime) -> int:
        result = await self.s.execute(delete(AuditEntry).where(AuditEntry.at < before))
        return result.rowcount or 0

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self.s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        return list(rows.scalars())


class Companies(_Table):
    async def get(self, company_id: int) -> Company | None:
        return await self.s.get(Company, company_id) if row_id_ok(company_id) else None

    async def of_user(self, user_id: int) -> list[Company]:
        rows = await self.s.execute(
            select(Company).where(Company.user_id == user_id).order_by(Company.id)
        )
        return list(rows.scalars())

    async def add(self, user_id: int, name: str, business_id: str | None) -> Company:
        company = Company(user_id=user_id, name=name, business_id=business_id)
        self.s.add(company)
        await self.s.flush()
        return company


class Assessments(_Table):
    async def get(self, assessment_id: int) -> Assessment | None:
        return await self.s.get(Assessment, assessment_id) if row_id_ok(assessment_id) else None

    async def add(self, company_id: int, user_id: int, version: str) -> Assessment:
        assessment = Assessment(company_id=company_id, user_id=user_id, version=version)
        self.s.add(assessment)
        await self.s.flush()
        return assessment

    async def latest_done(self, company_id: int, before_id: int | None = None) -> Assessment | None:
        stmt = select(Assessment).where(
            Assessment.company_id == company_id,
            Assessment.status == "done",
        )
        if before_id is not None:
            stmt = stmt.where(Assessment.id < before_id)
        rows = await self.s.execute(stmt.order_by(Assessment.id.desc()).limit(1))
        return rows.scalar_one_or_none()

    async def of_user(self, user_id: int) -> list[Assessment]:
        rows = await self.s.execute(
            select(Assessment).where(Assessment.user_id == user_id).order_by(Assessment.id)
        )
        return list(rows.scalars())

    async def done(self) -> list[Assessment]:
        rows = await self.s.execute(
            select(Assessment).where(Assessment.status == "done").order_by(Assessment.id)
        )
        return list(rows.scalars())


class Answers(_Table):
    async def put(
        self, assessment_id: int, question_id: str, version: str, value: Any, text: str | None
    ) -> None:
        """Write (or overwrite) one answer at once, as it is given."""
        await self.raw.execute(
            _PUT_ANSWER, self._put(assessment_id, question_id, version, value, text)
        )

    def _put(
        self, assessment_id: int, question_id: str, version: str, value: Any, text: str | None
    ) -> tuple[Any, ...]:
        return (assessment_id, question_id, version, dumps(value), text, self.raw.time(utcnow()))

    async def put_and_read(
        self, assessment_id: int, question_id: str, version: str, value: Any, text: str | None
    ) -> dict[str, Any]:
        """`put`, then `values`: every answer of the assessment, this one included (one
        statement on PostgreSQL, two on SQLite where a statement is a function call)."""
        if not self.postgres:
            await self.put(assessment_id, question_id, version, value, text)
            return await self.values(assessment_id)
        params = (*self._put(assessment_id, question_id, version, value, text), assessment_id)
        rows = await self.raw.fetch(_PUT_ANSWER_AND_READ, (*params, question_id))
        return self._values(rows)

    async def drop(self, assessment_id: int, question_id: str) -> None:
        await self.s.execute(
            delete(Answer).where(
                Answer.assessment_id == assessment_id,
                Answer.question_id == question_id,
            )
        )

    async def values(self, assessment_id: int) -> dict[str, Any]:
        """Question id -> the answer as the flows use it: an option id, a list of them, or
        the free text."""
        return self._values(await self.raw.fetch(_ANSWER_VALUES, (assessment_id,)))

    def _values(self, rows: Any) -> dict[str, Any]:
        json = self.raw.json
        values = {}
        for question_id, value, text in rows:
            value = json(value)
            values[question_id] = text if value is None else value
        return values

    async def of(self, assessment_id: int) -> dict[str, Answer]:
        query = _answers_of(self.postgres)
        rows = await self.s.execute(query, {"assessment_id": assessment_id})
        return {a.question_id: a for a in rows.scalars()}


class Contacts(_Table):
    async def add(self, user_id: int, company_id: int, assessment_id: int) -> bool:
        """Record a contact request; False if this assessment already has one."""
        stmt = self._insert(ContactRequest).values(
            user_id=user_id,
            company_id=company_id,
            assessment_id=assessment_id,
            status="new",
            created_at=utcnow(),
        )
        return (await self.s.execute(stmt.on_conflict_do_nothing())).rowcount == 1

    async def open(self) -> list[ContactRequest]:
        rows = await self.s.execute(
            select(ContactRequest)
            .where(ContactRequest.status.in_(("new", "in_progress")))
            .order_by(ContactRequest.id)
        )
        return list(rows.scalars())

    async def of_user(self, user_id: int) -> list[ContactRequest]:
        rows = await self.s.execute(select(ContactRequest).where(ContactRequest.user_id == user_id))
        return list(rows.scalars())

    async def mark(self, assessment_id: int, status: str) -> None:
        await self.s.execute(
            update(ContactRequest)
            .where(ContactRequest.assessment_id == assessment_id)
            .values(status=status)
        )


class Interests(_Table):
    async def add(self, user_id: int, placement_id: str, prefs: dict[str, Any]) -> bool:
        """Record interest in a placement; False if it was recorded before (a double press)."""
        stmt = self._insert(PlacementInterest).values(
            user_id=user_id,
            placement_id=placement_id,
            prefs=prefs,
            status="new",
            created_at=utcnow(),
        )
        return (await self.s.execute(stmt.on_conflict_do_nothing())).rowcount == 1

    async def of_user(self, user_id: int) -> list[PlacementInterest]:
        rows = await self.s.execute(
            select(PlacementInterest).where(PlacementInterest.user_id == user_id)
        )
        return list(rows.scalars())

    async def all(self) -> list[PlacementInterest]:
        rows = await self.s.execute(select(PlacementInterest).order_by(PlacementInterest.id))
        return list(rows.scalars())

    async def open(self) -> list[PlacementInterest]:
        rows = await self.s.execute(
            select(PlacementInterest)
            .where(PlacementInterest.status == "new")
            .order_by(PlacementInterest.id)
        )
        return list(rows.scalars())

    async def mark(self, user_id: int, placement_id: str, status: str) -> None:
        await self.s.execute(
            update(PlacementInterest)
            .where(
                PlacementInterest.user_id == user_id, PlacementInterest.placement_id == placement_id
            )
            .values(status=status)
        )


class Votes(_Table):
    async def put(self, user_id: int, placement_id: str, vote: int) -> None:
        stmt = self._insert(PlacementVote).values(
            user_id=user_id, placement_id=placement_id, vote=vote, at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "placement_id"], set_={"vote": vote, "at": utcnow()}
        )
        await self.s.execute(stmt)

    async def totals(self) -> dict[str, int]:
        """Net votes per placement over all users (used as a gentle ranking prior)."""
        rows = await self.s.execute(
            select(PlacementVote.placement_id, func.sum(PlacementVote.vote)).group_by(
                PlacementVote.placement_id
            )
        )
        return {pid: int(total or 0) for pid, total in rows.all()}

    async def of_user(self, user_id: int) -> dict[str, int]:
        rows = await self.s.execute(select(PlacementVote).where(PlacementVote.user_id == user_id))
        return {v.placement_id: v.vote for v in rows.scalars()}


class Misses(_Table):
    def add(
        self, user_id: int | None, locale: str, text: str, best_id: str | None, best_score: float
    ) -> None:
        self.s.add(
            FaqMiss(
                user_id=user_id, locale=locale, text=text, best_id=best_id, best_score=best_score
            )
        )

    async def of_user(self, user_id: int) -> list[FaqMiss]:
        rows = await self.s.execute(select(FaqMiss).where(FaqMiss.user_id == user_id))
        return list(rows.scalars())

    async def recent(self, limit: int = 100) -> list[FaqMiss]:
        rows = await self.s.execute(select(FaqMiss).order_by(FaqMiss.id.desc()).limit(limit))
        return list(rows.scalars())


class Tickets(_Table):
    async def add(self, user_id: int, locale: str, topic: str, question: str) -> Ticket:
        ticket = Ticket(user_id=user_id, locale=locale, topic=topic, question=question)
        self.s.add(ticket)
        await self.s.flush()
        return ticket

    async def get(self, ticket_id: int) -> Ticket | None:
        return await self.s.get(Ticket, ticket_id) if row_id_ok(ticket_id) else None

    async def open(self) -> list[Ticket]:
        rows = await self.s.execute(
            select(Ticket).where(Ticket.status.in_(("open", "in_progress"))).order_by(Ticket.id)
        )
        return list(rows.scalars())

    async def of_user(self, user_id: int) -> list[Ticket]:
        rows = await self.s.execute(
            select(Ticket).where(Ticket.user_id == user_id).order_by(Ticket.id)
        )
        return list(rows.scalars())


class Repository:
    def __init__(self, session: AsyncSession, *, postgres: bool = False) -> None:
        self.session = session
        self.postgres = postgres
        self.raw = RawLane(session, postgres)

    def _table(self, cls: type[_Table]) -> Any:
        return cls(self.session, self.postgres, self.raw)

    async def finish(
        self, replies: Sequence[tuple[int, dict[str, Any], int | None]] = ()
    ) -> list[int]:
        """Before the unit commits: write back the dialog states read by
        `users.lock_with_state` that changed (none if unchanged), and queue `replies` in
        the outbox: (chat id, action, whom it is about) each; returns their row ids, in
        order. On PostgreSQL that is one statement: the states' UPDATEs ride along with the
        replies' INSERT. `Database.unit` calls it (again) at the end: nothing is left then."""
        raw = self.raw
        states: list[tuple[Any, ...]] = [  # the UPDATE's values of each state that changed
            (state.flow, state.step, dumps(state.data), raw.time(state.updated_at), state.user_id)
            for state, (flow, step, data, updated_at) in raw.detached_states
            if (state.flow, state.step, state.updated_at, state.data)
            != (flow, step, updated_at, data)
        ]
        raw.detached_states.clear()
        outbox = self.outbox
        ids: list[int] = []
        for start in range(0, len(replies), REPLIES_AT_ONCE):
            some = replies[start : start + REPLIES_AT_ONCE]
            sql, params = outbox.replies_sql(len(some)), outbox.reply_params(some)
            if states and self.postgres:  # ride along with the first INSERT
                sql = _with_states(len(states)) + sql
                params = [value for values in states for value in values] + params
                states = []
            # the ids come from the table's sequence in the order of the VALUES rows
            ids += sorted(int(row[0]) for row in await raw.fetch(sql, params))
        for values in states:
            await raw.execute(_SAVE_STATE, values)
        return ids

    @cached_property
    def users(self) -> Users:
        return self._table(Users)

    @cached_property
    def states(self) -> States:
        return self._table(States)

    @cached_property
    def updates(self) -> Updates:
        return self._table(Updates)

    @cached_property
    def audit(self) -> Audit:
        return self._table(Audit)

    @cached_property
    def companies(self) -> Companies:
        return self._table(Companies)

    @cached_property
    def assessments(self) -> Assessments:
        return self._table(Assessments)

    @cached_property
    def answers(self) -> Answers:
        return self._table(Answers)

    @cached_property
    def contacts(self) -> Contacts:
        return self._table(Contacts)

    @cached_property
    def interests(self) -> Interests:
        return self._table(Interests)

    @cached_property
    def votes(self) -> Votes:
        return self._table(Votes)

    @cached_property
    def misses(self) -> Misses:
        return self._table(Misses)

    @cached_property
    def tickets(self) -> Tickets:
        return self._table(Tickets)

    @cached_property
    def hp_events(self) -> haastepaja.Events:
        return haastepaja.Events(self.session, self.postgres)

    @cached_property
    def rsvps(self) -> haastepaja.Rsvps:
        return haastepaja.Rsvps(self.session, self.postgres)

    @cached_property
    def attendees(self) -> haastepaja.Attendees:
        return haastepaja.Attendees(self.session, self.postgres)

    @cached_property
    def broadcasts(self) -> haastepaja.Broadcasts:
        return haastepaja.Broadcasts(self.session, self.postgres)

    @cached_property
    def logins(self) -> Any:
        from dialogs.store.repo_backoffice import Logins

        return self._table(Logins)

    @cached_property
    def sessions(self) -> Any:
        from dialogs.store.repo_backoffice import Sessions

        return self._table(Sessions)

    @cached_property
    def ticket_messages(self) -> Any:
        from dialogs.store.repo_backoffice import TicketMessages

        return self._table(TicketMessages)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.session, self.postgres, self.raw)

    async def forget(self, user_id: int) -> None:
        """Erase everything stored about one person (/forget), the back office's traces of
        them included. The audit log keeps only that an erasure happened, under the id that
        asked for it; earlier entries about the person lose what pointed to them."""
        from dialogs.store.models import AdminSession, LoginToken, OutboxMessage, TicketMessage

        assessment_ids = select(Assessment.id).where(Assessment.user_id == user_id)
        await haastepaja.forget(self.session, user_id)
        ticket_ids = select(Ticket.id).where(Ticket.user_id == user_id)
        await self.session.execute(
            delete(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids))
        )
        await self.session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id == user_id))
        for model in (LoginToken, AdminSession):
            await self.session.execute(delete(model).where(model.user_id == user_id))
        await self.session.execute(
            update(AuditEntry)
            .where(AuditEntry.about_user_id == user_id)
            .values(subject="", about_user_id=None)
        )
        await self.session.execute(delete(Answer).where(Answer.assessment_id.in_(assessment_ids)))
        for model in (ContactRequest, PlacementInterest, PlacementVote, FaqMiss, Ticket):
            await self.session.execute(delete(model).where(model.user_id == user_id))
        await self.session.execute(delete(Assessment).where(Assessment.user_id == user_id))
        await self.session.execute(delete(Company).where(Company.user_id == user_id))
        await self.session.execute(delete(DialogState).where(DialogState.user_id == user_id))
        await self.outbox.forget(user_id)
        await self.session.execute(delete(User).where(User.id == user_id))
