"""Changing a saved event: the edit flow (texts, place, places, deadline), a change of time
and a cancellation — who hears it, and the invitations already delivered edited in place."""

from __future__ import annotations

from datetime import timedelta

from dialogs.actions import Edit, Send
from dialogs.store.outbox import decode
from tests.haastepaja.conftest import NOW
from tests.haastepaja.helpers import broadcast, deliver, make_event, outbox, people

STAFF = 7  # ADMIN_IDS in the test settings


async def setting(app, chat, capacity=1):
    """Four invited people: 1 coming, 2 and 3 on the waitlist (in that order), 4 has not
    answered; staff at the event's card."""
    ids = [1, 2, 3, 4]
    await people(app, *[(uid, "fi", None, True) for uid in ids])
    event_id = await make_event(app, NOW, capacity=capacity)
    assert await broadcast(app, event_id, NOW) == 4
    c = {uid: chat(uid, "fi") for uid in ids}
    await deliver(app, c)
    for uid in (1, 2, 3):
        await c[uid].press(f"rv:{event_id}:y")
    staff = chat(STAFF, "fi")
    await staff.send("/events")
    await staff.press(f"hpe:{event_id}:open")
    return event_id, c, staff


async def statuses(app, event_id):
    async with app.db.unit() as repo:
        return {r.user_id: r.status for r in await repo.rsvps.of_event(event_id)}


async def get_event(app, event_id):
    async with app.db.unit() as repo:
        event = await repo.hp_events.get(event_id)
        repo.session.expunge_all()
        return event


async def edits(app, since: int = 0) -> dict[int, Edit]:
    """The invitation edits queued (newest per person), after outbox row `since`."""
    found = {}
    for row in await outbox(app, "broadcast"):
        if (row.id or 0) > since and row.action.get("type") == "edit":
            found[row.user_id] = decode(row.chat_id, row.action)
    return found


async def notices(app, since: int = 0) -> dict[int, Send]:
    return {
        row.user_id: decode(row.chat_id, row.action)
        for row in await outbox(app, "notice")
        if (row.id or 0) > since and row.user_id is not None
    }


async def last_row(app) -> int:
    rows = await outbox(app)
    return max((r.id or 0) for r in rows) if rows else 0


def invitation_id(conv, event_id) -> int:
    return conv.holder(f"rv:{event_id}:off").id


async def test_a_change_of_time_reaches_the_waitlist_and_edits_every_invitation(
    app, chat, frozen
) -> None:
    event_id, c, staff = await setting(app, chat)
    mark = await last_row(app)
    await staff.press(f"hpe:{event_id}:time")
    await staff.send("10.12. 13-15")
    assert "3 tulossa olevaa tai jonottavaa saa viestin" in staff.last.text
    await staff.press("hpt:confirm:yes")
    assert "4 jo lähetettyä kutsua päivitetään" in staff.last.text
    told = await notices(app, mark)
    assert set(told) == {1, 2, 3}  # coming, and both on the waitlist; not 4
    assert all("aika on muuttunut" in m.text and m.keyboard for m in told.values())
    edited = await edits(app, mark)
    assert set(edited) == {1, 2, 3, 4}
    for uid, edit in edited.items():
        assert edit.message_id == invitation_id(c[uid], event_id)  # in place
        assert "to 10.12.2026 klo 13.00–15.00" in edit.text
    assert "Tulen" in edited[1].text
    assert "sijalla 1" in edited[2].text and "sijalla 2" in edited[3].text
    assert "Vastauksesi" not in edited[4].text  # no answer: the plain invitation


async def test_a_cancellation_edits_the_invitations_to_say_so(app, chat, frozen) -> None:
    event_id, _c, staff = await setting(app, chat)
    mark = await last_row(app)
    await staff.press(f"hpe:{event_id}:cx")
    assert "3 tulossa olevaa tai jonottavaa" in staff.last.text
    await staff.press(f"hpe:{event_id}:cxy")
    assert set(await notices(app, mark)) == {1, 2, 3}
    edited = await edits(app, mark)
    assert set(edited) == {1, 2, 3, 4}
    for edit in edited.values():
        assert "Tämä haastepaja on peruttu" in edit.text
        payloads = [b.payload for row in edit.keyboard for b in row]
        assert payloads == [f"rv:{event_id}:off"]  # nothing left to answer


async def test_more_places_promote_from_the_waitlist_and_fewer_remove_nobody(
    app, chat, frozen
) -> None:
    event_id, c, staff = await setting(app, chat)
    await staff.press(f"hpe:{event_id}:edit")
    assert "1 tulossa, 1 paikkaa" in staff.last.text
    await staff.press("hpx:menu:f.cap")
    await staff.send("lots")
    assert "⚠️" in staff.last.text  # asked again, nothing changed
    await staff.send("0")
    assert "⚠️" in staff.last.text
    await staff.send("2")
    assert "1 henkilö pääsee jonosta mukaan" in staff.last.text
    assert (await get_event(app, event_id)).capacity == 1  # not before Save
    mark = await last_row(app)
    await staff.press("hpx:confirm:yes")
    assert await statuses(app, event_id) == {1: "going", 2: "going", 3: "waitlist"}
    promoted = [a for a in staff.elsewhere if isinstance(a, Send) and a.chat_id == 2]
    assert promoted and "Paikka vapautui" in promoted[-1].text
    edited = await edits(app, mark)
    assert "Tulen" in edited[2].text and "sijalla 1" in edited[3].text
    assert "Muuta haastepajaa" in staff.last.text  # back at the menu for more changes

    # fewer places than are coming: nobody loses theirs
    await staff.press("hpx:menu:f.cap")
    await staff.send("1")
    assert "kukaan ei menetä paikkaansa" in staff.last.text
    await staff.press("hpx:confirm:yes")
    assert await statuses(app, event_id) == {1: "going", 2: "going", 3: "waitlist"}
    assert (await get_event(app, event_id)).capacity == 1
    # 1 cancels: still full (2 coming for 1 place), so nobody moves up
    await c[1].press(f"rv:{event_id}:n")
    assert await statuses(app, event_id) == {1: "not_going", 2: "going", 3: "waitlist"}

    # no limit: everyone waiting moves up
    await staff.press("hpx:menu:f.cap")
    await staff.press("hpx:cap:none")
    await staff.press("hpx:confirm:yes")
    assert await statuses(app, event_id) == {1: "not_going", 2: "going", 3: "going"}
    assert (await get_event(app, event_id)).capacity is None


async def test_texts_place_and_deadline_are_changed_and_shown(app, chat, frozen) -> None:
    event_id, _c, staff = await setting(app, chat)
    await staff.press(f"hpe:{event_id}:edit")

    await staff.press("hpx:menu:f.title")
    await staff.send("x" * 200)
    assert "⚠️" in staff.last.text
    await staff.send("Tekstiilien   uusi elämä")
    mark = await last_row(app)
    await staff.press("hpx:confirm:yes")
    assert (await get_event(app, event_id)).title["fi"] == "Tekstiilien uusi elämä"
    assert all("Tekstiilien uusi elämä" in e.text for e in (await edits(app, mark)).values())
    assert await notices(app, mark) == {}  # a new title is no news to write about

    await staff.press("hpx:menu:f.sv")
    await staff.send("Textilier får nytt liv")
    await staff.send("Välkommen att lösa utmaningen.")
    await staff.press("hpx:confirm:yes")
    event = await get_event(app, event_id)
    assert event.title["sv"] == "Textilier får nytt liv"
    assert event.description["sv"] == "Välkommen att lösa utmaningen."
    assert event.title["en"] == "Textile challenge"  # the other languages untouched

    await staff.press("hpx:menu:f.place")
    await staff.send("Hiedanranta, Tampere")
    assert "3 tulossa olevaa tai jonottavaa saa viestin" in staff.last.text
    mark = await last_row(app)
    await staff.press("hpx:confirm:yes")
    assert (await get_event(app, event_id)).place == "Hiedanranta, Tampere"
    told = await notices(app, mark)
    assert set(told) == {1, 2, 3}
    assert all("paikka on muuttunut" in m.text and "Hiedanranta" in m.text for m in told.values())

    await staff.press("hpx:menu:f.dl")
    await staff.send("24.12.")  # after the start (7.12.)
    assert "ennen alkua" in staff.last.text
    await staff.send("3.12.")
    await staff.press("hpx:confirm:no")  # changed their mind: nothing saved
    assert (await get_event(app, event_id)).deadline is None
    await staff.press("hpx:menu:f.dl")
    await staff.send("3.12.")
    await staff.press("hpx:confirm:yes")
    assert (await get_event(app, event_id)).deadline is not None
    edited = await edits(app)
    assert "Vastaa viimeistään to 3.12.2026" in edited[4].text

    await staff.press("hpx:menu:done")
    assert f"(#{event_id})" in staff.last.text and "Hiedanranta" in staff.last.text
    async with app.db.unit() as repo:
        audits = {a.action for a in await repo.audit.recent()}
    assert {"event_edit_title", "event_edit_sv", "event_edit_place", "event_edit_dl"} <= audits


async def test_only_staff_edit_and_only_an_open_event(app, chat, frozen) -> None:
    event_id, c, staff = await setting(app, chat)
    await c[1].press(f"hpe:{event_id}:edit")
    assert c[1].toasts[-1].text and "Muuta haastepajaa" not in c[1].last.text
    await staff.press(f"hpe:{event_id}:edit")
    await staff.press("hpx:menu:f.title")
    await staff.send("Uusi nimi")
    # meanwhile the event is cancelled (the card's buttons work in the middle of a flow)
    await staff.press(f"hpe:{event_id}:cx")
    await staff.press(f"hpe:{event_id}:cxy")
    await staff.press("hpx:confirm:yes")
    assert "ei voi enää muuttaa" in staff.last.text
    assert (await get_event(app, event_id)).title["fi"] == "Tekstiilihaaste"
    await staff.press(f"hpe:{event_id}:edit")
    assert "ei voi enää muuttaa" in staff.last.text


async def test_a_too_long_invitation_is_refused_before_saving(app, chat, frozen) -> None:
    event_id, _c, staff = await setting(app, chat)
    await staff.press(f"hpe:{event_id}:edit")
    await staff.press("hpx:menu:f.fi")
    await staff.send("x" * 3001)
    assert "⚠️" in staff.last.text
    await staff.send("&" * 2000)  # 2,000 characters, but 10,000 once escaped for HTML
    await staff.press("hpx:confirm:yes")
    assert "liian pitkä" in staff.texts[0]
    assert "Muuta haastepajaa" in staff.last.text  # back at the menu
    assert (await get_event(app, event_id)).description["fi"] == "Tervetuloa ratkomaan."


async def test_the_24h_reminder_still_goes_to_those_coming_only(app, chat, frozen) -> None:
    from dialogs.haastepaja import jobs

    _event_id, _c, _staff = await setting(app, chat)
    mark = await last_row(app)
    start = NOW + timedelta(days=7)
    assert await jobs.fire_reminders(app.db, app.i18n, start - timedelta(hours=23)) == 1
    assert set(await notices(app, mark)) == {1}
