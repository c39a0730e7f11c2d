"""The outbox table and its repository API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from dialogs.actions import Btn, Edit, Send, SendFile
from dialogs.store.db import Database
from dialogs.store.models import OutboxMessage, utcnow
from dialogs.store.outbox import RESEND_EDITS, decode, deferred_marker, encode


def test_actions_survive_the_round_trip_through_json() -> None:
    keyboard = ((Btn("Kyllä", "kr:1.ok"), Btn("Web", url="https://example.org")),)
    for action in (
        Send(42, "<b>hei</b>", keyboard),
        Edit(42, 7, "muokattu", keyboard),
        SendFile(42, "photo", b"\x89PNG\x00data", "a.png", "kuva"),
    ):
        assert decode(42, encode(action), 3) == action
        assert decode(42, encode(action), 3).outbox_id == 3
    assert decode(5, deferred_marker("sorry")) == Send(5, "sorry")


async def test_claim_is_atomic_and_a_sent_row_keeps_no_text(any_db: Database) -> None:
    async with any_db.unit() as repo:
        row = await repo.outbox.add(42, encode(Send(42, "salainen vastaus")), user_id=42)
    async with any_db.unit() as repo:
        assert await repo.outbox.claim(row) is True
        assert await repo.outbox.claim(row) is False  # a second sender gets nothing
    async with any_db.unit() as repo:
        await repo.outbox.sent(row, 555)
    async with any_db.unit() as repo:
        stored = await repo.outbox.get(row)
        assert stored is not None
        assert (stored.status, stored.sent_message_id, stored.attempts) == ("sent", 555, 1)
        assert stored.action == {"type": "send"}
        assert await repo.outbox.last_sent_id(42) == 555
        assert await repo.outbox.last_sent_id(43) is None


async def test_due_rows_come_replies_first_and_a_retry_waits(any_db: Database) -> None:
    async with any_db.unit() as repo:
        first = await repo.outbox.add(1, encode(Send(1, "b")), kind="broadcast")
        second = await repo.outbox.add(2, encode(Send(2, "r")), kind="reply")
        third = await repo.outbox.add(3, encode(Send(3, "n")), kind="notice")
        await repo.outbox.add(4, encode(Send(4, "later")), due_at=utcnow() + timedelta(hours=1))
    async with any_db.unit() as repo:
        claimed = await repo.outbox.claim_due()
    assert [r.id for r in claimed] == [second, third, first]
    async with any_db.unit() as repo:
        assert await repo.outbox.claim_due() == []  # all taken, the last one not due
        await repo.outbox.retry(second, "server", timedelta(seconds=-1))
    async with any_db.unit() as repo:
        again = await repo.outbox.claim_due()
    assert [(r.id, r.attempts, r.last_error) for r in again] == [(second, 2, "server")]


async def test_rows_in_flight_at_a_crash_become_unknown(any_db: Database) -> None:
    async with any_db.unit() as repo:
        inflight = await repo.outbox.add(1, encode(Send(1, "a")))
        waiting = await repo.outbox.add(1, encode(Send(1, "b")))
        await repo.outbox.claim(inflight)
    async with any_db.unit() as repo:
        lost, again = await repo.outbox.recover()
    assert [r.id for r in lost] == [inflight] and again == []
    async with any_db.unit() as repo:
        assert (await repo.outbox.get(inflight)).status == "unknown"  # type: ignore[union-attr]
        assert (await repo.outbox.get(waiting)).status == "pending"  # type: ignore[union-attr]
        assert await repo.outbox.counts() == {"unknown": 1, "pending": 1}


async def test_an_edit_in_flight_at_a_crash_is_sent_again_unless_a_later_row_exists(
    any_db: Database,
) -> None:
    async with any_db.unit() as repo:
        alone = await repo.outbox.add(1, encode(Edit(1, 10, "question 2")))
        overtaken = await repo.outbox.add(2, encode(Edit(2, 20, "question 2")))
        later = await repo.outbox.add(2, encode(Edit(2, 20, "question 3")))
        worn = await repo.outbox.add(3, encode(Edit(3, 30, "question 2")))
        for row in (alone, overtaken, later):
            await repo.outbox.claim(row)
        for _ in range(RESEND_EDITS + 1):  # a row every restart finds in flight again
            await repo.outbox.claim(worn)
            await repo.outbox.retry(worn, "server", timedelta(seconds=-1))
        await repo.outbox.claim(worn)
        await repo.outbox.sent(later, 21)
    async with any_db.unit() as repo:
        lost, again = await repo.outbox.recover()
    assert sorted(r.id for r in lost) == [overtaken, worn]
    assert [r.id for r in again] == [alone]
    async with any_db.unit() as repo:
        row = await repo.outbox.get(alone)
        assert row is not None and row.status == "pending" and row.action["text"] == "question 2"
        assert [r.id for r in await repo.outbox.claim_due()] == [alone]


async def test_a_broadcast_is_queued_once_per_recipient(any_db: Database) -> None:
    action = encode(Send(0, "Haastepaja 5.12."))
    async with any_db.unit() as repo:
        assert await repo.outbox.broadcast(9, [(1, 1), (2, 2)], action) == 2
    async with any_db.unit() as repo:  # the writer ran again, with one more recipient
        assert await repo.outbox.broadcast(9, [(1, 1), (2, 2), (3, 3)], action) == 1
        per_user = {4: encode(Send(4, "fi")), 5: encode(Send(5, "sv"))}
        assert await repo.outbox.broadcast(10, [(4, 4), (5, 5), (6, 6)], per_user) == 2
    async with any_db.unit() as repo:
        assert await repo.outbox.counts(9) == {"pending": 3}
        await repo.outbox.blocked((await repo.outbox.claim_due(1))[0].id or 0)
        assert await repo.outbox.counts(9) == {"pending": 2, "blocked": 1}


async def test_staff_posts_about_a_person_are_found_then_forgotten(any_db: Database) -> None:
    async with any_db.unit() as repo:
        post = await repo.outbox.add(-100500, encode(Send(-100500, "ticket")), user_id=42)
        await repo.outbox.add(42, encode(Send(42, "reply")), user_id=42)
        await repo.outbox.claim(post)
        await repo.outbox.sent(post, 77)
    async with any_db.unit() as repo:
        assert await repo.outbox.posts_about(42, -100500) == [77]
        await repo.outbox.forget(42)
    async with any_db.unit() as repo:
        assert await repo.outbox.counts() == {}


async def test_forged_ids_are_refused_before_any_query(any_db: Database) -> None:
    """On PostgreSQL these would overflow INTEGER / BIGINT and fail the whole event."""
    async with any_db.unit() as repo:
        assert await repo.assessments.get(999_999_999_999) is None
        assert await repo.tickets.get(99_999_999_999) is None
        assert await repo.companies.get(2**31) is None
        assert await repo.users.get(2**70) is None
        assert await repo.users.get(8_000_000_000) is None  # 64-bit: a real query
    async with any_db.unit() as repo:  # and the unit was not spoiled
        await repo.outbox.add(8_000_000_000, encode(Send(8_000_000_000, "x")))
        assert await repo.outbox.counts() == {"pending": 1}


async def test_prune_keeps_what_is_not_finished_and_ticket_posts(any_db: Database) -> None:
    async with any_db.unit() as repo:
        done = await repo.outbox.add(1, encode(Send(1, "a")))
        await repo.outbox.add(1, encode(Send(1, "b")))
        post = await repo.outbox.add(-100, encode(Send(-100, "ticket")), user_id=1)
        for row in (done, post):
            await repo.outbox.claim(row)
            await repo.outbox.sent(row, 1)
    async with any_db.unit() as repo:
        assert await repo.outbox.prune(utcnow() + timedelta(seconds=1)) == 1
        rows = await repo.session.execute(OutboxMessage.__table__.select())
        assert sorted(r.status for r in rows) == ["pending", "sent"]
