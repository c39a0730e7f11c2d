"""The haastepaja's store on SQLite and PostgreSQL: audiences from real rows, seats under
a lock, reminders claimed once, and /forget."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from dialogs.haastepaja import seats
from dialogs.haastepaja.segments import Segment, audience, load_profiles
from dialogs.store.db import Database
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.store.models import Answer, Assessment, Company, PlacementInterest, User
from tests.haastepaja.conftest import NOW


async def add_event(db: Database, capacity: int | None = 1) -> int:
    async with db.unit() as repo:
        event = HaastepajaEvent(
            title={"fi": "Haaste"},
            description={"fi": "Kuvaus"},
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, hours=2),
            capacity=capacity,
            token="t0ken",
            created_by=7,
            remind_24h_at=NOW + timedelta(days=1),
            remind_2h_at=NOW + timedelta(days=1, hours=22),
        )
        await repo.hp_events.add(event)
        return event.id or 0


async def test_audience_from_kartoitus_and_finder_rows(any_db: Database) -> None:
    async with any_db.unit() as repo:
        s = repo.session
        s.add_all(
            [
                User(id=1, locale="fi", role="company", invitations=True),
                User(id=2, locale="en", role="company", invitations=True),
                User(id=3, locale="fi", role="jobseeker", invitations=True),
                User(id=4, locale="fi", role="company", invitations=False),
                User(id=5, locale="fi", role="jobseeker", invitations=True, blocked=True),
            ]
        )
        await s.flush()
        for uid, industry, waste in ((1, "manufacturing", 30.0), (2, "food", 70.0)):
            company = Company(user_id=uid, name=f"Oy {uid}")
            s.add(company)
            await s.flush()
            a = Assessment(company_id=company.id, user_id=uid, version="v", status="done",
                           level="herannyt", result={"themes": {"waste": waste}})  # fmt: skip
            s.add(a)
            await s.flush()
            s.add(Answer(assessment_id=a.id, question_id="industry", version="v", value=industry))
        s.add(PlacementInterest(user_id=3, placement_id="p1", prefs={"int": ["textiles"]}))
        s.add(PlacementInterest(user_id=5, placement_id="p1", prefs={"int": ["textiles"]}))
    async with any_db.unit() as repo:
        profiles = await load_profiles(repo)

    def ids(segment: Segment) -> list[int]:
        return sorted(p.user_id for p in audience(segment, profiles))

    assert ids(Segment()) == [1, 2, 3]
    assert ids(Segment(who="companies", industries=("manufacturing",))) == [1]
    assert ids(Segment(who="companies", weak_theme="waste", weak_below=40)) == [1]
    assert ids(Segment(who="jobseekers", tags=("textiles",))) == [3]
    assert ids(Segment(langs=("en",))) == [2]


async def test_last_seat_goes_to_one_of_two_at_once(any_db: Database) -> None:
    event_id = await add_event(any_db, capacity=1)

    async def press(user_id: int) -> str:
        async with any_db.unit() as repo:
            event = await repo.hp_events.get(event_id, lock=True)
            assert event is not None
            return (await seats.answer(repo, event, user_id, "yes", NOW)).status

    results = await asyncio.gather(press(1), press(2))
    assert sorted(results) == ["going", "waitlist"]
    async with any_db.unit() as repo:
        event = await repo.hp_events.get(event_id, lock=True)
        assert event is not None
        going = (await repo.rsvps.of_event(event_id, "going"))[0].user_id
        outcome = await seats.answer(repo, event, going, "no", NOW)
        assert [r.user_id for r in outcome.promoted] == [3 - going]


async def test_reminders_are_claimed_once(any_db: Database) -> None:
    await add_event(any_db)
    async with any_db.unit() as repo:
        due = await repo.hp_events.reminders_due(NOW + timedelta(days=1, hours=23))
        assert sorted(kind for _, kind in due) == ["24h", "2h"]
        for event, _ in due:
            event.remind_24h_at = event.remind_2h_at = None
    async with any_db.unit() as repo:
        assert await repo.hp_events.reminders_due(NOW + timedelta(days=3)) == []


async def test_forget_erases_answers_and_details(any_db: Database) -> None:
    event_id = await add_event(any_db)
    async with any_db.unit() as repo:
        repo.session.add(User(id=9, locale="fi", invitations=True))
        event = await repo.hp_events.get(event_id, lock=True)
        assert event is not None
        await seats.answer(repo, event, 9, "yes", NOW)
        await repo.attendees.put(event_id, 9, "Maija", "Oy")
    async with any_db.unit() as repo:
        await repo.forget(9)
    async with any_db.unit() as repo:
        assert await repo.rsvps.of_user(9) == [] and await repo.attendees.of_user(9) == []
        assert [p.user_id for p in await load_profiles(repo)] == []


async def test_a_broadcast_is_due_at_once_a_fresh_reply_is_left_to_its_fast_path(
    any_db: Database,
) -> None:
    from dialogs.store.models import utcnow

    async with any_db.unit() as repo:
        await repo.outbox.add(1, {"type": "send", "text": "a reply"}, user_id=1)
        await repo.outbox.broadcast(5, [(2, 2)], {"type": "send", "text": "an invitation"})
    async with any_db.unit() as repo:
        due = await repo.outbox.due(10, fresh_after=utcnow() - timedelta(seconds=30))
    assert [(row.kind, row.user_id) for row in due] == [("broadcast", 2)]
