"""The hot statements on the driver (dialogs/store/raw.py), on SQLite and PostgreSQL: what
they write reads the same through SQLAlchemy, they commit and roll back with the unit, and
the dialog state read outside the session is written back only when it changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dialogs.store import raw
from dialogs.store.db import Database
from dialogs.store.models import (
    Answer,
    Assessment,
    Company,
    DialogState,
    OutboxMessage,
    ProcessedUpdate,
    User,
)


async def assessment_of(db: Database, user_id: int) -> int:
    async with db.unit() as repo:
        await repo.users.lock(user_id, "fi")
        company = Company(user_id=user_id, name="Oy")
        repo.session.add(company)
        await repo.session.flush()
        assessment = Assessment(company_id=company.id, user_id=user_id, version="v1")
        repo.session.add(assessment)
        await repo.session.flush()
        return assessment.id


async def test_answers_written_raw_read_the_same_through_the_orm(any_db: Database) -> None:
    assessment = await assessment_of(any_db, 1)
    async with any_db.unit() as repo:
        await repo.answers.put(assessment, "q1", "v1", "a", None)
        await repo.answers.put(assessment, "q2", "v1", ["a", "b"], None)
        await repo.answers.put(assessment, "q3", "v1", None, "vapaa teksti åäö")
        await repo.answers.put(assessment, "q1", "v1", "b", None)  # overwritten
    async with any_db.unit() as repo:
        rows = (await repo.session.execute(select(Answer).order_by(Answer.question_id))).scalars()
        orm = {a.question_id: (a.value, a.text, a.answered_at.tzinfo) for a in rows}
        assert orm == {
            "q1": ("b", None, UTC),
            "q2": (["a", "b"], None, UTC),
            "q3": (None, "vapaa teksti åäö", UTC),
        }
        assert await repo.answers.values(assessment) == {
            "q1": "b",
            "q2": ["a", "b"],
            "q3": "vapaa teksti åäö",
        }


async def test_outbox_row_and_update_id_read_the_same_through_the_orm(any_db: Database) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    async with any_db.unit() as repo:
        assert await repo.updates.mark(10) is True
        assert await repo.updates.mark(10) is False
        first = await repo.outbox.add(5, {"type": "send", "text": "hei ✓", "keyboard": []})
        second = await repo.outbox.add(5, {"type": "send", "text": "b"}, user_id=5, due_at=due)
        assert second > first
    async with any_db.unit() as repo:
        row = await repo.session.get(OutboxMessage, second)
        assert row is not None
        assert (row.kind, row.priority, row.chat_id, row.user_id, row.status, row.attempts) == (
            "reply",
            0,
            5,
            5,
            "pending",
            0,
        )
        assert row.action == {"type": "send", "text": "b"}
        assert row.due_at == due
        assert (await repo.session.get(OutboxMessage, first)).action["text"] == "hei ✓"
        assert await repo.session.get(ProcessedUpdate, 10) is not None


async def test_raw_writes_roll_back_with_the_unit(any_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with any_db.unit() as repo:
            assert await repo.updates.mark(11)  # the unit's first statement
            await repo.outbox.add(5, {"type": "send", "text": "x"})
            raise RuntimeError("the step failed")
    async with any_db.unit() as repo:
        assert await repo.updates.mark(11) is True  # not recorded before
        assert (await repo.session.execute(select(OutboxMessage))).first() is None


async def test_state_outside_the_session_is_written_back_only_when_changed(
    any_db: Database,
) -> None:
    async with any_db.unit() as repo:
        user, state, created = await repo.users.lock_with_state(3, "sv")
        assert created and state is None and user.locale == "sv"
        state = await repo.states.get(3)  # first contact: the ORM inserts it
        state.flow, state.step, state.data = "kartoitus", "q", {"q": "b1"}
    statements: list[str] = []
    raw.OBSERVERS.append(statements.append)
    try:
        async with any_db.unit() as repo:
            user, state, created = await repo.users.lock_with_state(3, "fi")
            assert not created and state is not None
            assert (state.flow, state.step, state.data) == ("kartoitus", "q", {"q": "b1"})
            assert state.updated_at.tzinfo is UTC and user.created_at.tzinfo is UTC
            assert await repo.users.get(3) is user  # in the session, as loaded
        assert not any(s.startswith("UPDATE") for s in statements)  # unchanged: no write
        async with any_db.unit() as repo:
            user, state, _ = await repo.users.lock_with_state(3, "fi")
            state.step, state.data = "sum", {"q": "b2", "n": 1}
            state.updated_at += timedelta(seconds=1)
            user.role = "company"  # the ORM flushes the user
        assert any(s.startswith("UPDATE dialog_states") for s in statements)
    finally:
        raw.OBSERVERS.remove(statements.append)
    async with any_db.unit() as repo:
        state = await repo.session.get(DialogState, 3)
        assert (state.flow, state.step, state.data) == ("kartoitus", "sum", {"q": "b2", "n": 1})
        assert (await repo.session.get(User, 3)).role == "company"


async def test_a_failed_unit_does_not_write_its_state_back(any_db: Database) -> None:
    async with any_db.unit() as repo:
        await repo.users.lock_with_state(4, "fi")
        await repo.states.get(4)
    with pytest.raises(RuntimeError):
        async with any_db.unit() as repo:
            _, state, _ = await repo.users.lock_with_state(4, "fi")
            state.flow = "kartoitus"
            raise RuntimeError("the step failed")
    async with any_db.unit() as repo:
        assert (await repo.session.get(DialogState, 4)).flow is None


async def test_an_update_id_and_its_user_in_one_round_trip_on_postgresql(
    any_db: Database,
) -> None:
    async with any_db.unit() as repo:
        assert await repo.updates.mark(20, user_id=6) is True  # nobody yet: first contact
        user, state, created = await repo.users.lock_with_state(6, "en")
        assert created and state is None and user.locale == "en"
        await repo.states.get(6)
    statements: list[str] = []
    raw.OBSERVERS.append(statements.append)
    try:
        async with any_db.unit() as repo:
            assert await repo.updates.mark(21, user_id=6) is True
            user, state, created = await repo.users.lock_with_state(6, "fi")
            assert not created and state is not None and user.locale == "en"
            assert await repo.users.get(6) is user
        async with any_db.unit() as repo:
            assert await repo.updates.mark(21, user_id=6) is False  # a redelivery
    finally:
        raw.OBSERVERS.remove(statements.append)
    # PostgreSQL: one statement for both; SQLite (no round trips to save): two
    assert len(statements) == (2 if any_db.url.startswith("postgresql") else 3)
