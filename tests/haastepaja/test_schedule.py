"""Reminders and scheduled sends fired by a controllable clock, across restarts; check-in."""

from __future__ import annotations

from datetime import timedelta

from dialogs.haastepaja import clock, jobs
from dialogs.haastepaja.segments import load_profiles
from dialogs.store.outbox import decode
from tests.haastepaja.conftest import NOW
from tests.haastepaja.helpers import broadcast, deliver, make_event, outbox, people


async def test_reminders_24h_and_2h_to_those_going_once_across_restarts(
    app, make_app, settings, chat, frozen
) -> None:
    await people(app, (1, "fi", None, True), (2, "en", None, True), (3, "fi", None, True))
    event_id = await make_event(app, NOW, starts_in=timedelta(days=3))
    await broadcast(app, event_id, NOW)
    c = {uid: chat(uid, lang) for uid, lang in ((1, "fi"), (2, "en"), (3, "fi"))}
    await deliver(app, c)
    await c[1].press(f"rv:{event_id}:y")
    await c[2].press(f"rv:{event_id}:y")
    await c[3].press(f"rv:{event_id}:n")
    start = NOW + timedelta(days=3)

    assert await jobs.fire_reminders(app.db, app.i18n, start - timedelta(hours=25)) == 0
    assert await jobs.fire_reminders(app.db, app.i18n, start - timedelta(hours=24)) == 2
    assert await jobs.fire_reminders(app.db, app.i18n, start - timedelta(hours=23)) == 0
    texts = {r.user_id: decode(r.chat_id, r.action).text for r in await outbox(app, "notice")}
    assert set(texts) == {1, 2}
    assert "huomenna" in texts[1] and "tomorrow" in texts[2]

    # a restart: a new app on the same database fires the 2 h reminder, once
    await app.close()
    again = await make_app(settings)
    try:
        assert await jobs.fire_reminders(again.db, again.i18n, start - timedelta(hours=2)) == 2
        assert await jobs.fire_reminders(again.db, again.i18n, start - timedelta(hours=1)) == 0
        rows = await outbox(again, "notice")
        assert len(rows) == 4
    finally:
        await again.close()


async def test_reminder_skipped_when_both_are_due(app, chat, frozen) -> None:
    await people(app, (1, "fi", None, True))
    event_id = await make_event(app, NOW, starts_in=timedelta(days=3))
    await broadcast(app, event_id, NOW)
    c = chat(1, "fi")
    await deliver(app, {1: c})
    await c.press(f"rv:{event_id}:y")
    start = NOW + timedelta(days=3)
    # the bot was down a whole day: only the 2 h reminder goes, not both
    assert await jobs.fire_reminders(app.db, app.i18n, start - timedelta(hours=1)) == 1


async def test_cant_come_after_all_from_the_reminder(app, chat, frozen) -> None:
    await people(app, (1, "fi", None, True))
    event_id = await make_event(app, NOW, starts_in=timedelta(days=3))
    await broadcast(app, event_id, NOW)
    c = chat(1, "fi")
    await deliver(app, {1: c})
    await c.press(f"rv:{event_id}:y")
    await jobs.fire_reminders(app.db, app.i18n, NOW + timedelta(days=2))
    await deliver(app, {1: c}, "notice")
    reminder = c.holder(f"rv:{event_id}:x")
    assert reminder is not None and "Muistutus" in reminder.text
    await c.press(f"rv:{event_id}:x", reminder.id)
    assert "et ole enää tulossa" in c.messages[reminder.id].text
    async with app.db.unit() as repo:
        assert (await repo.rsvps.counts(event_id))["going"] == 0
    invitation = c.holder(f"rv:{event_id}:y")
    assert "En pääse" in invitation.text  # the invitation too shows the answer now


async def test_scheduled_broadcast_starts_when_due_and_reports(app, chat, frozen) -> None:
    await people(app, (1, "fi", None, True), (2, "fi", None, False), (3, "fi", None, True))
    event_id = await make_event(app, NOW)
    staff = chat(7, "fi")
    await staff.send("/events")
    await staff.press(f"hpe:{event_id}:open")
    await staff.press(f"hpe:{event_id}:inv")
    await staff.press("hpc:preview:go")
    await staff.press("hpc:seg:ok")
    await staff.press("hpc:when:at")
    await staff.send("1.12. klo 9")
    await staff.press("hpc:confirm:send")
    assert "Ajastettu" in staff.last.text
    assert await outbox(app, "broadcast") == []
    assert await jobs.start_broadcasts(app.db, app.i18n, NOW + timedelta(hours=1)) == []
    started = await jobs.start_broadcasts(app.db, app.i18n, NOW + timedelta(days=1))
    assert [s.queued for s in started] == [2]
    assert await jobs.start_broadcasts(app.db, app.i18n, NOW + timedelta(days=1)) == []
    assert await jobs.finish_reports(app.db, app.i18n, -100500, NOW) == 0  # still queued
    await deliver(app, {1: chat(1, "fi")}, "broadcast", blocked=frozenset({3}))
    assert await jobs.finish_reports(app.db, app.i18n, -100500, NOW) == 1
    reports = [decode(r.chat_id, r.action).text for r in await outbox(app, "notice")]
    assert len(reports) == 2
    assert all("perillä 1, estänyt botin 1" in r for r in reports), reports
    async with app.db.unit() as repo:  # 403: out of every later audience
        assert (await repo.users.get(3)).blocked is True
        assert [p.user_id for p in await load_profiles(repo)] == [1]
    assert await jobs.finish_reports(app.db, app.i18n, -100500, NOW) == 0


async def test_check_in(app, chat, frozen) -> None:
    await people(app, (1, "fi", None, True))
    event_id = await make_event(app, NOW, starts_in=timedelta(hours=1), token="good_token12")
    await make_event(
        app, NOW, starts_in=timedelta(days=30), token="later_token1", title="Myöhemmin"
    )
    c = chat(1, "fi")
    await c.send("/start in_forged_token")
    assert "ei kelpaa" in c.said
    await c.send("/start in_later_token1")
    assert "Myöhemmin" in c.said and "kaksi tuntia ennen" in c.said
    await c.send("/start in_good_token12")
    assert "Tervetuloa" in c.said and "kirjautunut paikalle" in c.said
    await c.send("/start in_good_token12")
    assert "jo kirjautunut" in c.said
    async with app.db.unit() as repo:
        assert (await repo.rsvps.counts(event_id))["checked_in"] == 1
    clock.set_now(NOW + timedelta(days=1))
    late = chat(2, "fi")
    await late.send("/start in_good_token12")  # the day after
    assert "on jo ohi" in late.said
    async with app.db.unit() as repo:
        assert (await repo.rsvps.counts(event_id))["checked_in"] == 1


async def test_pause_resume_and_stop_a_running_broadcast(app, chat, frozen) -> None:
    await people(app, *[(uid, "fi", None, True) for uid in (1, 2, 3)])
    event_id = await make_event(app, NOW)
    assert await broadcast(app, event_id, NOW) == 3
    await deliver(app, {1: chat(1, "fi")}, "broadcast")  # one went out before the pause
    staff = chat(7, "fi")
    await staff.send("/events")
    await staff.press(f"hpe:{event_id}:open")
    async with app.db.unit() as repo:
        bid = (await repo.broadcasts.of_event(event_id))[0].id
    await staff.press(f"hpe:{event_id}:bps.{bid}")
    assert "2 kutsua odottaa" in staff.said
    assert sorted(r.status for r in await outbox(app, "broadcast")) == ["paused", "paused", "sent"]
    await deliver(app, {2: chat(2, "fi"), 3: chat(3, "fi")}, "broadcast")  # the sender skips them
    assert sorted(r.status for r in await outbox(app, "broadcast")) == ["paused", "paused", "sent"]
    await staff.press(f"hpe:{event_id}:brs.{bid}")
    assert sorted(r.status for r in await outbox(app, "broadcast")) == [
        "pending",
        "pending",
        "sent",
    ]
    await staff.press(f"hpe:{event_id}:bst.{bid}")
    assert "2 kutsua jäi lähettämättä" in staff.said
    rows = await outbox(app, "broadcast")
    assert sorted(r.status for r in rows) == ["failed", "failed", "sent"]
    assert all(r.action == {"type": "send"} for r in rows if r.status == "failed")
    await staff.press(f"hpe:{event_id}:bst.{bid}")  # a second press: nothing more happens
    assert "jo edennyt" in staff.said
