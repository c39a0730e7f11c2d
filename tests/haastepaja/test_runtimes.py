"""The haastepaja through both Telegram runtimes and the fake Bot API: staff compose an
event, get the test invitation, answer it (edited in place, the .ics arrives), and check
in with the deep link; people who are not staff cannot."""

from __future__ import annotations

from datetime import timedelta

from dialogs.haastepaja import clock
from tests.adapters.test_runtimes import (
    ADMIN,
    Running,
    newest_with,
    press_and_wait,
    send_and_wait,
)
from tests.haastepaja.conftest import NOW


async def test_compose_test_invitation_rsvp_and_check_in(bot: Running, frozen) -> None:
    staff = bot.fake.user(ADMIN, language_code="fi")
    for text in ("/newevent", "Ajonaikainen haaste", "5.2. 13-15", "Tampere", "100"):
        await send_and_wait(bot, staff, text)
    await press_and_wait(bot, staff, "hpc:dl:none")
    await send_and_wait(bot, staff, "Tervetuloa <b>kaikki</b> & muut.")
    await press_and_wait(bot, staff, "hpc:more:done")
    assert "Tarkista vielä" in staff.bot_messages[-1].content
    await press_and_wait(bot, staff, "hpc:check:ok")
    previews = [m.content for m in staff.bot_messages[-8:]]
    assert any("Esikatselu (Svenska)" in p for p in previews)
    assert any("Tervetuloa <b>kaikki</b> & muut." in p for p in previews)  # escaped, not HTML
    await press_and_wait(bot, staff, "hpc:preview:test")
    invitation = next(m for m in reversed(staff.bot_messages) if m.callback_data[:1] == ["rv:1:y"])
    assert invitation.callback_data == ["rv:1:y", "rv:1:n", "rv:1:off"]
    await press_and_wait(bot, staff, "rv:1:y")
    assert invitation.edited and "Vastauksesi: Tulen" in invitation.content
    ics = [m for m in staff.bot_messages if m.document and b"BEGIN:VCALENDAR" in m.document]
    assert len(ics) == 1
    assert newest_with(staff, "rv:1:") == ["rv:1:d", "rv:1:nd"]

    async with bot.app.db.unit() as repo:
        event = await repo.hp_events.get(1)
        assert event is not None
        token, start = event.token, event.starts_at
    clock.set_now(start - timedelta(minutes=30))
    guest = bot.fake.user(301, language_code="fi")
    await send_and_wait(bot, guest, f"/start in_{token}")
    assert "Tervetuloa haastepajaan" in guest.bot_messages[-1].content
    await send_and_wait(bot, guest, "/start in_forged00")
    assert "ei kelpaa" in guest.bot_messages[-1].content
    await send_and_wait(bot, guest, "/newevent")
    assert "henkilökunnalle" in guest.bot_messages[-1].content
    async with bot.app.db.unit() as repo:
        assert (await repo.rsvps.counts(1))["checked_in"] == 1
    assert bot.fake.unanswered_callbacks() == []
    assert NOW < start
