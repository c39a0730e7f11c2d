"""dialogs/store on SQLite and on PostgreSQL (`any_db`): the migrated schema, the repository's
idempotent writes, /forget, and units of work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from dialogs.store import models
from dialogs.store.db import Database, alembic_config
from dialogs.store.haastepaja import AttendeeDetails, HaastepajaEvent, Rsvp
from dialogs.store.models import (
    AdminSession,
    Answer,
    Assessment,
    AuditEntry,
    Company,
    ContactRequest,
    DialogState,
    FaqMiss,
    LoginToken,
    OutboxMessage,
    PlacementInterest,
    PlacementVote,
    ProcessedUpdate,
    Ticket,
    TicketMessage,
    User,
    utcnow,
)
from dialogs.store.repo import Repository

assert models  # the tables are registered on SQLModel.metadata


async def count(db: Database, model: type, *where: Any) -> int:
    async with db.unit() as repo:
        stmt = select(func.count()).select_from(model)
        if where:
            stmt = stmt.where(*where)
        return (await repo.session.execute(stmt)).scalar_one()


async def tables_and_columns(db: Database) -> dict[str, set[str]]:
    def read(conn: Connection) -> dict[str, set[str]]:
        inspector = inspect(conn)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def company_and_assessment(repo: Repository, user_id: int) -> tuple[int, int]:
    await repo.users.lock(user_id, "fi")
    company = await repo.companies.add(user_id, f"Company of {user_id}", "1234567-8")
    assessment = await repo.assessments.add(company.id, user_id, "2026.1")
    return company.id, assessment.id


# --------------------------------------------------------------------------- migrations


async def test_migrations_create_every_table_of_the_models(any_db: Database) -> None:
    found = await tables_and_columns(any_db)
    expected = {
        name: {c.name for c in table.columns} for name, table in SQLModel.metadata.tables.items()
    }
    assert set(found) == set(expected) | {"alembic_version"}
    for name, columns in expected.items():
        assert found[name] == columns, name


async def test_migrated_schema_matches_the_models_exactly(any_db: Database) -> None:
    """No autogenerate difference: types, nullability, indexes and unique constraints."""

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with any_db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_database_is_at_the_head_revision(any_db: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with any_db.engine.connect() as conn:
        rows = (await conn.execute(text("select version_num from alembic_version"))).all()
    assert [r[0] for r in rows] == [head]


async def test_migrate_twice_is_harmless_and_keeps_data(any_db: Database) -> None:
    async with any_db.unit() as repo:
        await repo.users.lock(1, "en")
    before = await tables_and_columns(any_db)
    await any_db.migrate()
    await any_db.migrate()
    assert await tables_and_columns(any_db) == before
    assert await count(any_db, User) == 1
    async with any_db.engine.connect() as conn:
        assert (await conn.execute(text("select count(*) from alembic_version"))).scalar() == 1


# --------------------------------------------------------------------------- repository


async def test_users_lock_creates_once(any_db: Database) -> None:
    async with any_db.unit() as repo:
        user, created = await repo.users.lock(42, "sv")
        assert created and (user.id, user.locale, user.roles) == (42, "sv", "")
        again, created_again = await repo.users.lock(42, "en")
        assert not created_again and again.id == 42
    async with any_db.unit() as repo:
        user, created = await repo.users.lock(42, "en")
        assert not created
        assert user.locale == "sv", "a later contact does not overwrite the stored language"
        other, created = await repo.users.lock(2**40, "fi")  # Telegram ids exceed 32 bits
        assert created and other.id == 2**40
    assert await count(any_db, User) == 2


async def test_updates_mark_is_true_once_per_id(any_db: Database) -> None:
    async with any_db.unit() as repo:
        assert await repo.updates.mark(1001) is True
        assert await repo.updates.mark(1001) is False
        assert await repo.updates.mark(1002) is True
    async with any_db.unit() as repo:
        assert await repo.updates.mark(1001) is False
        assert await repo.updates.mark(2**50) is True
    assert await count(any_db, ProcessedUpdate) == 3


async def test_answers_put_overwrites_the_same_question(any_db: Database) -> None:
    async with any_db.unit() as repo:
        _, aid = await company_and_assessment(repo, 1)
        await repo.answers.put(aid, "st1", "2026.1", "m1", None)
        await repo.answers.put(aid, "st2", "2026.1", "yes", None)
    async with any_db.unit() as repo:
        await repo.answers.put(aid, "st1", "2026.2", ["m4", "m5"], "we measure it")
    async with any_db.unit() as repo:
        answers = await repo.answers.of(aid)
    assert set(answers) == {"st1", "st2"}
    assert answers["st1"].value == ["m4", "m5"]
    assert (answers["st1"].text, answers["st1"].version) == ("we measure it", "2026.2")
    assert answers["st2"].value == "yes"
    assert await count(any_db, Answer) == 2


async def test_answers_put_and_read_returns_every_answer_with_the_new_one(
    any_db: Database,
) -> None:
    """Answers.put_and_read (one statement on PostgreSQL): the new answer, an overwritten
    one (its new value, once), the others of the assessment, none of another's."""
    async with any_db.unit() as repo:
        _, aid = await company_and_assessment(repo, 1)
        _, other = await company_and_assessment(repo, 2)
        await repo.answers.put(other, "st1", "2026.1", "m9", None)
        assert await repo.answers.put_and_read(aid, "st1", "2026.1", "m1", None) == {"st1": "m1"}
        await repo.answers.put(aid, "st2", "2026.1", ["a", "b"], None)
    async with any_db.unit() as repo:
        got = await repo.answers.put_and_read(aid, "st1", "2026.1", "m2", None)
        assert got == {"st1": "m2", "st2": ["a", "b"]}
        got = await repo.answers.put_and_read(aid, "note", "2026.1", None, "hei ' \" $1 ?")
        assert got == {"st1": "m2", "st2": ["a", "b"], "note": "hei ' \" $1 ?"}
    async with any_db.unit() as repo:
        assert await repo.answers.values(aid) == got
        assert await repo.answers.values(other) == {"st1": "m9"}


@pytest.mark.parametrize("at_once", [500, 2])
async def test_finish_writes_the_state_and_queues_the_replies_in_order(
    any_db: Database, at_once: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repository.finish(replies) (one statement on PostgreSQL): the changed dialog state
    is written, each reply gets its own row, and the ids come back in the replies' order
    (the door sends by them); the unit's own finish afterwards writes nothing twice. With
    more replies than one INSERT takes (`at_once` 2), the same in several statements."""
    from dialogs.store import repo as repo_module

    monkeypatch.setattr(repo_module, "REPLIES_AT_ONCE", at_once)
    async with any_db.unit() as repo:
        await repo.users.lock(9, "fi")
        await repo.states.get(9)
    replies = [
        (9, {"type": "send", "text": "eka"}, 9),
        (9, {"type": "edit", "message_id": 5, "text": "toka"}, 9),
        (-100, {"type": "send", "text": "kolmas"}, None),
    ]
    async with any_db.unit() as repo:
        _, state, _ = await repo.users.lock_with_state(9, "fi")
        state.flow, state.step, state.data = "kartoitus", "q", {"question": "st1"}
        ids = await repo.finish(replies)
        assert ids == sorted(ids) and len(set(ids)) == 3
        assert await repo.finish() == []
    async with any_db.unit() as repo:
        _, state, _ = await repo.users.lock_with_state(9, "fi")
        assert (state.flow, state.step, state.data) == ("kartoitus", "q", {"question": "st1"})
        for row_id, (chat_id, action, about) in zip(ids, replies, strict=True):
            row = await repo.session.get(OutboxMessage, row_id)
            assert (row.chat_id, row.action, row.user_id) == (chat_id, action, about)
            assert (row.kind, row.status, row.attempts) == ("reply", "pending", 0)
    from dialogs.store import raw

    seen: list[str] = []
    raw.OBSERVERS.append(seen.append)
    try:
        async with any_db.unit() as repo:  # a state left as it was is not written at all
            await repo.users.lock_with_state(9, "fi")
            assert len(await repo.finish([(9, {"type": "send", "text": "neljäs"}, 9)])) == 1
    finally:
        raw.OBSERVERS.remove(seen.append)
    assert len(seen) == 2 and "dialog_states SET" not in seen[-1]


async def test_answers_of_two_assessments_are_separate(any_db: Database) -> None:
    async with any_db.unit() as repo:
        _, a1 = await company_and_assessment(repo, 1)
        _, a2 = await company_and_assessment(repo, 2)
        await repo.answers.put(a1, "st1", "2026.1", "m1", None)
        await repo.answers.put(a2, "st1", "2026.1", "m5", None)
    async with any_db.unit() as repo:
        assert (await repo.answers.of(a1))["st1"].value == "m1"
        assert (await repo.answers.of(a2))["st1"].value == "m5"


async def test_interests_add_is_idempotent(any_db: Database) -> None:
    async with any_db.unit() as repo:
        assert await repo.interests.add(1, "nextiili_textiles", {"interests": ["textiles"]})
        assert not await repo.interests.add(1, "nextiili_textiles", {"interests": ["food"]})
    async with any_db.unit() as repo:
        assert not await repo.interests.add(1, "nextiili_textiles", {})
        assert await repo.interests.add(1, "ravintola_kierto", {})
        assert await repo.interests.add(2, "nextiili_textiles", {})
    async with any_db.unit() as repo:
        mine = await repo.interests.of_user(1)
    assert sorted(i.placement_id for i in mine) == ["nextiili_textiles", "ravintola_kierto"]
    first = next(i for i in mine if i.placement_id == "nextiili_textiles")
    assert first.prefs == {"interests": ["textiles"]}, "the first recording is kept"
    assert await count(any_db, PlacementInterest) == 3


async def test_contacts_add_is_idempotent(any_db: Database) -> None:
    async with any_db.unit() as repo:
        cid, aid = await company_and_assessment(repo, 1)
        assert await repo.contacts.add(1, cid, aid) is True
        assert await repo.contacts.add(1, cid, aid) is False
    async with any_db.unit() as repo:
        assert await repo.contacts.add(1, cid, aid) is False
        _, aid2 = await company_and_assessment(repo, 1)
        assert await repo.contacts.add(1, cid, aid2) is True
        assert [c.assessment_id for c in await repo.contacts.open()] == [aid, aid2]
    assert await count(any_db, ContactRequest) == 2


async def test_votes_put_upserts_and_totals_sum(any_db: Database) -> None:
    async with any_db.unit() as repo:
        assert await repo.votes.totals() == {}
        await repo.votes.put(1, "p1", 1)
        await repo.votes.put(1, "p1", -1)  # changed their mind
        await repo.votes.put(2, "p1", 1)
        await repo.votes.put(3, "p1", 1)
        await repo.votes.put(2, "p2", -1)
    async with any_db.unit() as repo:
        await repo.votes.put(3, "p1", -1)
        await repo.votes.put(4, "p3", 1)
        await repo.votes.put(5, "p3", -1)
    async with any_db.unit() as repo:
        assert await repo.votes.of_user(1) == {"p1": -1}
        assert await repo.votes.of_user(2) == {"p1": 1, "p2": -1}
        totals = await repo.votes.totals()
    assert totals == {"p1": -1, "p2": -1, "p3": 0}
    assert all(type(v) is int for v in totals.values())
    assert await count(any_db, PlacementVote) == 6


# --------------------------------------------------------------------------- /forget


async def populate(db: Database, user_id: int) -> None:
    """A row of this user in every table that holds personal data."""
    async with db.unit() as repo:
        cid, aid = await company_and_assessment(repo, user_id)
        state = await repo.states.get(user_id)
        state.flow, state.step, state.data = "kartoitus", "q", {"aid": aid}
        await repo.answers.put(aid, "st1", "2026.1", "m2", None)
        await repo.answers.put(aid, "pe5", "2026.1", None, "our own words")
        await repo.contacts.add(user_id, cid, aid)
        await repo.interests.add(user_id, "nextiili_textiles", {"x": 1})
        await repo.votes.put(user_id, "nextiili_textiles", 1)
        repo.misses.add(user_id, "fi", "mikä on palkkatuki", None, 0.1)
        ticket = await repo.tickets.add(user_id, "fi", "faq", "voiko joku soittaa")
        await repo.updates.mark(user_id * 1000)
        await repo.outbox.add(user_id, {"type": "send", "text": "hei"}, user_id=user_id)
        event = await repo.hp_events.add(
            HaastepajaEvent(
                title={"fi": "Haaste"},
                starts_at=utcnow(),
                ends_at=utcnow(),
                token=f"tok{user_id}",
                created_by=user_id,
            )
        )
        await repo.rsvps.put(Rsvp(event_id=event.id, user_id=user_id, status="going"))
        await repo.attendees.put(event.id or 0, user_id, "Maija", "Oy")
        repo.audit.log("mydata", subject=str(user_id), actor_id=user_id)
        # what the back office keeps about the person
        assert ticket.id is not None
        repo.ticket_messages.add(ticket.id, "staff", "soitamme huomenna", 7)
        await repo.outbox.add(
            user_id, {"type": "send", "text": "soitamme huomenna"}, kind="notice", user_id=user_id
        )
        await repo.logins.issue(user_id)
        await repo.sessions.start(user_id)
        repo.audit.log("view_company", f"company:{cid}", 7, about_user_id=user_id)


PERSONAL = [
    User,
    DialogState,
    Company,
    Assessment,
    Answer,
    ContactRequest,
    PlacementInterest,
    PlacementVote,
    FaqMiss,
    Ticket,
    TicketMessage,
    OutboxMessage,
    Rsvp,
    AttendeeDetails,
    LoginToken,
    AdminSession,
    AuditEntry,
]


def test_every_table_with_a_user_id_is_covered_here() -> None:
    """A new personal table must be added to `populate` and PERSONAL above."""
    with_user = {t.name for t in SQLModel.metadata.tables.values() if "user_id" in t.columns}
    covered = {m.__tablename__ for m in PERSONAL}
    linked = {"users", "answers", "ticket_messages", "outbox", "audit_log"}
    assert with_user | linked == covered


async def rows_of(db: Database, user_id: int) -> dict[str, int]:
    async with db.unit() as repo:
        aids = select(Assessment.id).where(Assessment.user_id == user_id)
        result = {}
        for model in PERSONAL:
            if model is User:
                where = User.id == user_id
            elif model is Answer:
                where = Answer.assessment_id.in_(aids)
            elif model is TicketMessage:
                tickets = select(Ticket.id).where(Ticket.user_id == user_id)
                where = TicketMessage.ticket_id.in_(tickets)
            elif model is OutboxMessage:
                where = OutboxMessage.chat_id == user_id
            elif model is AuditEntry:  # entries about the person (not their own actions)
                where = AuditEntry.about_user_id == user_id
            else:
                where = model.user_id == user_id
            stmt = select(func.count()).select_from(model).where(where)
            result[model.__tablename__] = (await repo.session.execute(stmt)).scalar_one()
        return result


async def test_forget_removes_every_row_of_the_user_and_nothing_else(any_db: Database) -> None:
    await populate(any_db, 1)
    await populate(any_db, 2)
    before = await rows_of(any_db, 2)
    assert all(before.values()), before
    assert await rows_of(any_db, 1) == before
    async with any_db.unit() as repo:
        await repo.forget(1)
    assert set((await rows_of(any_db, 1)).values()) == {0}
    assert await rows_of(any_db, 2) == before
    # update ids are not personal and stay
    assert await count(any_db, ProcessedUpdate) == 2


async def test_forget_of_an_unknown_user_is_harmless(any_db: Database) -> None:
    await populate(any_db, 2)
    before = await rows_of(any_db, 2)
    async with any_db.unit() as repo:
        await repo.forget(999)
    assert await rows_of(any_db, 2) == before


async def test_forgotten_user_starts_afresh(any_db: Database) -> None:
    await populate(any_db, 1)
    async with any_db.unit() as repo:
        await repo.forget(1)
    async with any_db.unit() as repo:
        user, created = await repo.users.lock(1, "en")
        assert created and user.locale == "en"
        assert await repo.interests.add(1, "nextiili_textiles", {})
        assert (await repo.states.get(1)).flow is None


# --------------------------------------------------------------------------- units of work


class Boom(Exception):
    pass


async def test_a_unit_that_raises_is_rolled_back_entirely(any_db: Database) -> None:
    async with any_db.unit() as repo:
        await repo.users.lock(7, "fi")
        await repo.votes.put(7, "p1", 1)
    with pytest.raises(Boom):
        async with any_db.unit() as repo:
            await repo.users.lock(8, "fi")
            assert await repo.updates.mark(555)
            _, aid = await company_and_assessment(repo, 8)
            await repo.answers.put(aid, "st1", "2026.1", "m1", None)
            await repo.votes.put(7, "p1", -1)
            (await repo.users.get(7)).roles = "staff"
            repo.audit.log("grant_staff", subject="7")
            raise Boom
    assert await count(any_db, User) == 1
    for model in (Company, Assessment, Answer, ProcessedUpdate, AuditEntry):
        assert await count(any_db, model) == 0, model.__tablename__
    async with any_db.unit() as repo:
        assert (await repo.users.get(7)).roles == ""
        assert await repo.votes.of_user(7) == {"p1": 1}
        assert await repo.updates.mark(555), "the rolled-back update id can be handled again"


async def test_a_failed_unit_does_not_block_the_next_one(any_db: Database) -> None:
    for _ in range(3):
        with pytest.raises(Boom):
            async with any_db.unit() as repo:
                await repo.users.lock(1, "fi")
                raise Boom
    async with any_db.unit() as repo:
        _, created = await repo.users.lock(1, "fi")
        assert created


async def test_two_concurrent_units_for_different_users_both_commit(any_db: Database) -> None:
    inside: list[int] = []

    async def work(user_id: int) -> None:
        async with any_db.unit() as repo:
            await repo.users.lock(user_id, "fi")
            inside.append(user_id)
            await asyncio.sleep(0.05)  # the other unit gets its turn meanwhile
            _, aid = await company_and_assessment(repo, user_id)
            await repo.answers.put(aid, "st1", "2026.1", "m3", None)
            await repo.votes.put(user_id, "p1", 1)

    await asyncio.wait_for(asyncio.gather(work(1), work(2)), timeout=20)
    assert sorted(inside) == [1, 2]
    assert await count(any_db, User) == 2
    assert await count(any_db, Company) == 2
    assert await count(any_db, Answer) == 2
    async with any_db.unit() as repo:
        assert await repo.votes.totals() == {"p1": 2}


async def test_many_concurrent_units(any_db: Database) -> None:
    async def work(user_id: int) -> None:
        async with any_db.unit() as repo:
            await repo.users.lock(user_id, "fi")
            await asyncio.sleep(0)
            await repo.votes.put(user_id, "p1", 1 if user_id % 2 else -1)
            await repo.updates.mark(user_id)

    await asyncio.wait_for(asyncio.gather(*(work(u) for u in range(1, 21))), timeout=30)
    assert await count(any_db, User) == 20
    async with any_db.unit() as repo:
        assert await repo.votes.totals() == {"p1": 0}
    assert await count(any_db, ProcessedUpdate) == 20


async def test_two_units_for_the_same_user_run_one_after_the_other(any_db: Database) -> None:
    """`users.lock` (a row lock on PostgreSQL, the write lock on SQLite) orders one user's
    units: the second waits until the first has committed, then sees its writes."""
    async with any_db.unit() as repo:
        await repo.users.lock(1, "fi")
    log: list[str] = []
    first_has_lock = asyncio.Event()

    async def first() -> None:
        async with any_db.unit() as repo:
            await repo.users.lock(1, "fi")
            log.append("first in")
            first_has_lock.set()
            await asyncio.sleep(0.2)
            (await repo.users.get(1)).roles = "staff"
            log.append("first out")

    async def second() -> None:
        await first_has_lock.wait()
        async with any_db.unit() as repo:
            user, _ = await repo.users.lock(1, "fi")
            log.append("second in")
            assert user.roles == "staff"

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=20)
    assert log == ["first in", "first out", "second in"]


async def test_sqlite_statements_run_on_the_event_loop_thread(tmp_path) -> None:
    """dialogs/store/db.py runs SQLite statements inline (InlineSqlite) rather than on
    aiosqlite's worker thread; an aiosqlite upgrade that changes the internals it relies
    on shows up here. Data written inline is really on disk for the next connection."""
    import threading

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        await db.migrate()
        seen: list[int] = []
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            raw.driver_connection._conn.create_function(
                "whose_thread", 0, lambda: seen.append(threading.get_ident()) or 1
            )
            await conn.execute(text("SELECT whose_thread()"))
        assert seen == [threading.get_ident()]
        async with db.unit() as repo:
            await repo.users.lock(5, "sv")
    finally:
        await db.dispose()
    again = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        async with again.unit() as repo:
            assert (await repo.users.get(5)).locale == "sv"
    finally:
        await again.dispose()


async def _kill_server_sides(db: Database) -> int:
    """Terminate every server process serving `db`'s pooled connections (as a database
    restart or a network cut would); returns how many."""
    import asyncpg

    from tests.conftest import PG_URL

    async with db.engine.connect() as conn:  # the pool's pids, this one's included
        pids = set()
        raw = await conn.get_raw_connection()
        pids.add(raw.driver_connection.get_server_pid())
    admin = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    return len(pids)


async def test_a_pooled_connection_idle_a_while_is_tested_before_use(pg_db, monkeypatch) -> None:
    """dialogs/store/db.py: a connection that sat in the pool longer than IDLE_PING_SECONDS
    is tested before a unit gets it, so a connection the server closed meanwhile (a
    restart) is replaced without the unit noticing."""
    from dialogs.store import db as db_module

    async with pg_db.unit() as repo:
        await repo.users.lock(7, "fi")
    assert await _kill_server_sides(pg_db) == 1
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)
    async with pg_db.unit() as repo:  # the dead connection is found and replaced
        assert (await repo.users.get(7)).locale == "fi"


async def test_a_connection_in_steady_use_is_not_tested_and_a_cut_costs_one_unit(
    pg_db, monkeypatch
) -> None:
    """A connection used moments ago goes to the next unit untested (no BEGIN / ping /
    ROLLBACK round trips before every update). If the server closed it meanwhile, that one
    unit fails as a connection error (the door then handles its update again, as in any
    outage), and the next unit gets a working connection."""
    from dialogs.store import db as db_module
    from dialogs.store.db import is_connection_error

    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 3600.0)
    statements: list[str] = []

    async with pg_db.unit() as repo:
        await repo.users.lock(8, "sv")
    assert await _kill_server_sides(pg_db) == 1
    from sqlalchemy import event

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(pg_db.engine.sync_engine, "before_cursor_execute", seen)
    with pytest.raises(Exception) as failed:
        async with pg_db.unit() as repo:
            await repo.users.get(8)
    assert is_connection_error(failed.value)
    assert not any(s.strip() == ";" for s in statements)  # no ping went first
    async with pg_db.unit() as repo:
        assert (await repo.users.get(8)).locale == "sv"
