"""RSVP: capacity, waitlist promotion, change of mind, deadline, cancellation, details."""

from __future__ import annotations

from datetime import timedelta

from dialogs.haastepaja import clock
from dialogs.store.outbox import decode
from tests.haastepaja.conftest import NOW
from tests.haastepaja.helpers import broadcast, deliver, make_event, outbox, people


async def invited(app, chat, ids, capacity=2, **kw):
    await people(app, *[(uid, "fi", None, True) for uid in ids])
    event_id = await make_event(app, NOW, capacity=capacity, **kw)
    assert await broadcast(app, event_id, NOW) == len(ids)
    chats = {uid: chat(uid, "fi") for uid in ids}
    await deliver(app, chats)
    return event_id, chats


async def counts(app, event_id):
    async with app.db.unit() as repo:
        return await repo.rsvps.counts(event_id)


async def test_capacity_waitlist_and_promotion(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1, 2, 3, 4])
    yes, no = f"rv:{event_id}:y", f"rv:{event_id}:n"
    await c[1].press(yes)
    assert "Tulen" in c[1].holder(no).text  # edited in place: "Vastauksesi: Tulen"
    assert c[1].files and c[1].files[-1].filename == "haastepaja.ics"
    await c[2].press(yes)
    # the third sees a full event: the button says so once the invitation is refreshed
    await c[3].press(yes)
    assert "jonossa" in c[3].holder(no).text and "sijalla 1" in c[3].holder(no).text
    await c[4].press(yes)
    assert "sijalla 2" in c[4].holder(no).text
    assert await counts(app, event_id) == {
        "going": 2,
        "waitlist": 2,
        "not_going": 0,
        "checked_in": 0,
    }
    # 1 changes their mind: 3 moves up, hears it, and 4 is first in line
    await c[1].press(no)
    assert "En pääse" in c[1].holder(yes).text
    promoted = [a for a in c[1].elsewhere if a.chat_id == 3]
    assert promoted and "Paikka vapautui" in promoted[-1].text
    assert await counts(app, event_id) == {
        "going": 2,
        "waitlist": 1,
        "not_going": 1,
        "checked_in": 0,
    }
    # 1 wants back in: the event is full, so they queue behind 4
    await c[1].press(yes)
    async with app.db.unit() as repo:
        waiting = [r.user_id for r in await repo.rsvps.of_event(event_id, "waitlist")]
    assert waiting == [4, 1]
    # pressing yes again while waiting does not jump the queue
    await c[1].press(yes)
    async with app.db.unit() as repo:
        assert [r.user_id for r in await repo.rsvps.of_event(event_id, "waitlist")] == [4, 1]


async def test_full_event_shows_waitlist_on_the_button(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1, 2], capacity=1)
    await c[1].press(f"rv:{event_id}:y")
    await people(app, (3, "fi", None, True))
    await broadcast(app, event_id, NOW)  # a second broadcast: only 3 is new
    c3 = chat(3, "fi")
    await deliver(app, {3: c3})
    labels = [b.label for b in c3.holder(f"rv:{event_id}:n").buttons]
    assert "⏳ Täynnä — jonoon" in labels


async def test_answers_close_at_the_deadline(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1], deadline_in=timedelta(days=2))
    clock.set_now(NOW + timedelta(days=3))
    await c[1].press(f"rv:{event_id}:y")
    assert c[1].toasts[-1].alert and "päättyi" in c[1].toasts[-1].text
    assert (await counts(app, event_id))["going"] == 0


async def test_cancelled_event_takes_no_answers_and_tells_those_coming(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1, 2])
    await c[1].press(f"rv:{event_id}:y")
    staff = chat(7, "fi")
    await staff.send("/events")
    await staff.press(f"hpe:{event_id}:open")
    assert "tulossa 1" in staff.last.text
    await staff.press(f"hpe:{event_id}:cx")
    assert "1 tulossa oleva tai jonottava saa viestin" in staff.last.text
    await staff.press(f"hpe:{event_id}:cxy")
    notices = [r for r in await outbox(app, "notice") if r.user_id == 1]
    assert len(notices) == 1 and "on peruttu" in decode(1, notices[0].action).text
    await c[2].press(f"rv:{event_id}:y")
    assert c[2].toasts[-1].alert and "peruttu" in c[2].toasts[-1].text
    assert (await counts(app, event_id))["going"] == 1  # unchanged


async def test_unsubscribe_in_one_press(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1])
    await c[1].press(f"rv:{event_id}:off")
    async with app.db.unit() as repo:
        assert (await repo.users.get(1)).invitations is False


async def test_attendee_details_with_consent_and_forget(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1])
    await c[1].press(f"rv:{event_id}:y")
    await c[1].press(f"rv:{event_id}:d")
    await c[1].send("Maija Meikäläinen")
    await c[1].send("=Kierto Oy")
    staff = chat(7, "fi")
    await staff.send("/events")
    await staff.press(f"hpe:{event_id}:open")
    await staff.press(f"hpe:{event_id}:csv")
    csv_text = staff.files[-1].data.decode("utf-8-sig")
    assert "Maija Meikäläinen" in csv_text and "'=Kierto Oy" in csv_text
    await staff.press(f"hpe:{event_id}:xlsx")
    assert staff.files[-1].filename.endswith(".xlsx") and staff.files[-1].data[:2] == b"PK"
    async with app.db.unit() as repo:
        audits = [(a.action, a.subject) for a in await repo.audit.recent()]
    assert audits.count(("export", f"haastepaja:{event_id}")) == 2
    await c[1].send("/mydata")
    dump = c[1].files[-1].data.decode()
    assert "Maija Meikäläinen" in dump and '"going"' in dump
    await c[1].send("/forget")
    await c[1].click("Kyllä")
    async with app.db.unit() as repo:
        assert await repo.rsvps.of_user(1) == []
        assert await repo.attendees.of_user(1) == []


async def test_forged_and_stale_rsvp_buttons(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1])
    await c[1].press("rv:999999:y")
    assert c[1].toasts[-1].alert
    await c[1].press(f"rv:{event_id}:maybe")
    assert c[1].toasts[-1].text
    assert (await counts(app, event_id))["going"] == 0


async def test_forget_gives_the_seat_to_the_first_in_line(app, chat, frozen) -> None:
    event_id, c = await invited(app, chat, [1, 2], capacity=1)
    await c[1].press(f"rv:{event_id}:y")
    await c[2].press(f"rv:{event_id}:y")
    await c[1].send("/forget")
    await c[1].click("Kyllä")
    assert any(a.chat_id == 2 and "Paikka vapautui" in a.text for a in c[1].elsewhere)
    async with app.db.unit() as repo:
        going = await repo.rsvps.of_event(event_id, "going")
    assert [r.user_id for r in going] == [2]
