"""/newevent end to end: compose, read back, preview, test, audience, send once."""

from __future__ import annotations

from sqlalchemy import select

from dialogs.store.models import OutboxMessage, User
from tests.conversation import Conversation

STAFF = 7  # ADMIN_IDS in the test settings


async def opt_in(app, *users: tuple[int, str, str | None, bool]) -> None:
    async with app.db.unit() as repo:
        for user_id, locale, role, invitations in users:
            repo.session.add(User(id=user_id, locale=locale, role=role, invitations=invitations))


async def compose_event(staff: Conversation, capacity: str = "2") -> None:
    await staff.send("/newevent")
    await staff.send("Tekstiilien uusi elämä")
    await staff.send("5.2. 13-15")
    await staff.send("Nextiilin paja, Tampere")
    await staff.send(capacity)
    await staff.press("hpc:dl:none")
    await staff.send("Ratkotaan yhdessä tekstiilijätteen haaste.")
    await staff.press("hpc:more:en")
    await staff.send("New life for textiles")
    await staff.send("Let's solve a textile waste challenge together.")
    await staff.press("hpc:more:done")


async def test_compose_preview_test_and_send_once(app, chat, frozen) -> None:
    await opt_in(app, (101, "fi", "company", True), (102, "en", "jobseeker", True),
                 (103, "sv", None, True), (104, "fi", "company", False))  # fmt: skip
    staff = chat(STAFF, "fi")
    await compose_event(staff)
    check = staff.last.text
    assert "Tekstiilien uusi elämä" in check and "pe 5.2.2027 klo 13.00–15.00" in check
    assert "Paikkoja: 2" in check or "Places: 2" in check or "2" in check
    await staff.press("hpc:check:ok")
    previews = staff.texts
    assert any("Let's solve a textile waste challenge" in t for t in previews)  # en
    swedish = [t for t in previews if "Ratkotaan yhdessä" in t and "finska" in t]
    assert swedish, "Swedish readers get the Finnish text with a note"
    await staff.press("hpc:preview:noop")
    assert staff.toasts[-1].text
    await staff.press("hpc:preview:test")
    test_invite = [
        m for m in staff.messages.values() if any(p.startswith("rv:") for p in m.payloads)
    ]
    assert test_invite, "the test invitation carries the real buttons"
    await staff.press("hpc:preview:go")
    assert "3" in staff.last.text  # 101, 102, 103 opted in; 104 did not
    await staff.press("hpc:seg:w.companies")
    assert "<b>1</b>" in staff.last.text
    await staff.press("hpc:seg:w.all")
    await staff.press("hpc:seg:ok")
    await staff.press("hpc:when:now")
    assert "<b>3</b>" in staff.last.text
    send = staff.holder("hpc:confirm:send")
    await staff.press("hpc:confirm:send", send.id)
    assert "3" in staff.last.text
    await staff.press("hpc:confirm:send", send.id)  # a double press
    async with app.db.unit() as repo:
        rows = list(
            (
                await repo.session.execute(
                    select(OutboxMessage).where(OutboxMessage.kind == "broadcast")
                )
            ).scalars()
        )
    assert sorted(r.user_id for r in rows) == [101, 102, 103]
