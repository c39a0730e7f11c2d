"""The back office's haastepaja pages over HTTP: counts, the RSVP list with only what
people agreed to share, escaping, roles, audit and the attendee exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

import httpx
from openpyxl import load_workbook
from sqlalchemy import update

from bot.app import App
from dialogs.store.haastepaja import Rsvp
from dialogs.store.models import OutboxMessage, utcnow
from tests.backoffice.conftest import COORDINATOR, STAFF
from tests.haastepaja.helpers import broadcast, make_event, people

SignIn = Callable[[int], Awaitable[httpx.AsyncClient]]

SHARED, SILENT, WAITING, DECLINED = 201, 202, 203, 204


async def an_event(app: App, title: str = "Tekstiilihaaste") -> int:
    """An upcoming event: four people invited (one delivered, one blocked), answers of
    each kind, one checked in, one name shared and one not."""
    now = utcnow()
    await people(
        app,
        (SHARED, "fi", "company", True),
        (SILENT, "fi", "company", True),
        (WAITING, "en", "company", True),
        (DECLINED, "sv", "company", True),
    )
    event_id = await make_event(app, now, title=title, capacity=2)
    invited = await broadcast(app, event_id, now)
    async with app.db.unit() as repo:
        for user_id, status in ((SHARED, "sent"), (SILENT, "blocked")):
            await repo.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.user_id == user_id, OutboxMessage.broadcast_id.is_not(None))
                .values(status=status)
            )
        for user_id, status, position in (
            (SHARED, "going", None),
            (SILENT, "going", None),
            (WAITING, "waitlist", 1),
            (DECLINED, "not_going", None),
        ):
            await repo.rsvps.put(
                Rsvp(
                    event_id=event_id,
                    user_id=user_id,
                    status=status,
                    position=position,
                    checked_in_at=now if user_id == SHARED else None,
                )
            )
        await repo.attendees.put(event_id, SHARED, "Aino Esimerkki", "=Kuitu Oy")
    assert invited >= 4
    return event_id


async def test_coordinator_sees_counts_and_the_rsvp_list(seeded: App, signed_in: SignIn) -> None:
    event_id = await an_event(seeded)
    client = await signed_in(COORDINATOR)
    listing = await client.get("/events")
    assert listing.status_code == 200
    assert "Tekstiilihaaste" in listing.text and f'href="/events/{event_id}"' in listing.text
    assert 'href="/events"' in listing.text  # in the navigation
    async with seeded.db.unit() as repo:
        counts = await repo.rsvps.counts(event_id)
    assert counts == {"going": 2, "waitlist": 1, "not_going": 1, "checked_in": 1}
    page = await client.get(f"/events/{event_id}")
    assert page.status_code == 200
    assert "Nextiili, Tampere" in page.text
    assert "Tulossa 2 · Jonossa 1 · Ei tulossa 1 · Paikalla 1" in page.text
    assert "Kutsuttu 4 · Toimitettu 1 · Estetty 1" in page.text
    assert "Aino Esimerkki" in page.text and "=Kuitu Oy" in page.text
    assert "klo" in page.text  # Helsinki time, Finnish format
    en = await client.get("/lang?to=en&next=/events")
    assert en.status_code == 303
    english = await client.get(f"/events/{event_id}")
    assert "Textile challenge" in english.text  # the title in the viewer's language


async def test_a_name_not_shared_is_not_shown(seeded: App, signed_in: SignIn) -> None:
    event_id = await an_event(seeded)
    other = await make_event(seeded, utcnow(), token="other_tok3n1", title="Toinen")
    async with seeded.db.unit() as repo:
        # SILENT shared their name for another event, not for this one
        await repo.attendees.put(other, SILENT, "Salainen Nimi", "Piilo Oy")
    client = await signed_in(COORDINATOR)
    page = await client.get(f"/events/{event_id}")
    assert page.status_code == 200
    assert "Salainen Nimi" not in page.text and "Piilo Oy" not in page.text
    assert page.text.count("<td>—</td>") >= 3 * 2  # three people without details


async def test_html_in_a_title_is_escaped(seeded: App, signed_in: SignIn) -> None:
    event_id = await an_event(seeded, title="<script>alert(1)</script>")
    client = await signed_in(COORDINATOR)
    for path in ("/events", f"/events/{event_id}"):
        page = await client.get(path)
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_staff_may_open_events_a_stranger_may_not(
    seeded: App, signed_in: SignIn, web: Callable[..., httpx.AsyncClient]
) -> None:
    event_id = await an_event(seeded)
    staff = await signed_in(STAFF)
    assert (await staff.get(f"/events/{event_id}")).status_code == 200
    anonymous = await web().get(f"/events/{event_id}")
    assert anonymous.status_code == 401 and "Aino Esimerkki" not in anonymous.text
    listing = await web().get("/events")
    assert listing.status_code == 401 and "Tekstiilihaaste" not in listing.text


async def test_views_and_exports_are_audited(seeded: App, signed_in: SignIn) -> None:
    event_id = await an_event(seeded)
    client = await signed_in(COORDINATOR)
    await client.get("/events")
    await client.get(f"/events/{event_id}")
    got = await client.get(f"/events/{event_id}/attendees.csv")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + 3  # header, two coming, one waiting; not the one who declined
    assert ["Aino Esimerkki", "'=Kuitu Oy"] in [r[1:3] for r in rows]  # formula-escaped
    assert ["", ""] in [r[1:3] for r in rows]  # a name not shared stays empty
    xlsx = await client.get(f"/events/{event_id}/attendees.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 4
    assert (await client.get(f"/events/{event_id}/attendees.pdf")).status_code == 404
    async with seeded.db.unit() as repo:
        entries = await repo.audit.recent()
    actions = {(e.action, e.actor_id, e.subject) for e in entries}
    assert ("view_event", COORDINATOR, f"haastepaja:{event_id}") in actions
    assert ("export", COORDINATOR, f"haastepaja:{event_id}:csv") in actions
    assert ("export", COORDINATOR, f"haastepaja:{event_id}:xlsx") in actions
    assert any(a == "view_events" and actor == COORDINATOR for a, actor, _ in actions)


async def test_someone_without_a_role_is_refused(
    seeded: App, signed_in: SignIn, web: Callable[..., httpx.AsyncClient]
) -> None:
    event_id = await an_event(seeded)
    staff = await signed_in(STAFF)
    async with seeded.db.unit() as repo:  # the role is taken away mid-session
        user = await repo.users.get(STAFF)
        assert user is not None
        user.roles = ""
    page = await staff.get(f"/events/{event_id}")
    assert page.status_code == 401 and "Aino Esimerkki" not in page.text
    outsider = await web().post("/login", data={"t": "x" * 43})
    assert outsider.status_code == 403  # and OUTSIDER gets no sign-in link at all
