"""The back office over HTTP (no browser): sign-in, roles, CSRF, tampering, escaping,
filters, ticket replies, the audit log, retention and /forget."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from bot.app import App
from bot.backoffice import auth
from dialogs.store.models import (
    AuditEntry,
    Company,
    LoginToken,
    OutboxMessage,
    Ticket,
    TicketMessage,
    utcnow,
)
from dialogs.store.repo_backoffice import digest
from dialogs.store.retention import purge
from tests.backoffice.conftest import COORDINATOR, OUTSIDER, STAFF, link_from_bot
from tests.conversation import Conversation

SignIn = Callable[[int], Awaitable[httpx.AsyncClient]]
Web = Callable[..., httpx.AsyncClient]


async def test_admin_link_only_for_staff_in_private(seeded: App) -> None:
    outsider = Conversation(seeded.engine, user_id=OUTSIDER, lang="en")
    await outsider.send("/admin")
    assert "/login?t=" not in outsider.last.text
    group = Conversation(
        seeded.engine, user_id=COORDINATOR, lang="en", chat_id=-100500, chat_type="supergroup"
    )
    await group.send("/admin")
    assert all("/login?t=" not in m.text for m in group.messages.values())
    link = await link_from_bot(seeded, STAFF)
    token = link.split("t=", 1)[1]
    async with seeded.db.unit() as repo:  # only the hash is stored
        stored = list((await repo.session.execute(select(LoginToken))).scalars())
    assert [t.token_hash for t in stored] == [digest(token)]


async def test_sign_in_once_then_the_link_is_spent(seeded: App, web: Web) -> None:
    link = await link_from_bot(seeded, COORDINATOR)
    token = link.split("t=", 1)[1]
    client = web()
    page = await client.get(f"/login?t={token}")
    assert page.status_code == 200 and 'name="t"' in page.text  # a GET does not spend it
    first = await client.post("/login", data={"t": token})
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    dashboard = await client.get("/")
    assert dashboard.status_code == 200 and "Yleiskuva" in dashboard.text
    again = await web().post("/login", data={"t": token})
    assert again.status_code == 403 and "kierto_session" not in again.headers.get("set-cookie", "")
    assert "ei kelpaa" in again.text


async def test_forged_and_expired_links_are_refused(seeded: App, web: Web) -> None:
    forged = await web().post("/login", data={"t": "x" * 43})
    assert forged.status_code == 403
    link = await link_from_bot(seeded, COORDINATOR)
    token = link.split("t=", 1)[1]
    async with seeded.db.unit() as repo:
        await repo.session.execute(
            update(LoginToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await web().post("/login", data={"t": token})
    assert expired.status_code == 403


async def test_without_a_session_only_the_sign_in_page(web: Web) -> None:
    client = web()
    for path in (
        "/",
        "/companies",
        "/companies/1",
        "/export/xlsx",
        "/tickets",
        "/tables/",
        "/audit",
    ):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "/admin" in response.text
        assert "Tampereen" not in response.text and "Pirkan" not in response.text
    client.cookies.set(auth.COOKIE, "made-up")
    assert (await client.get("/")).status_code == 401


async def test_staff_session_gets_tickets_only(signed_in: SignIn) -> None:
    client = await signed_in(STAFF)
    assert (await client.get("/tickets")).status_code == 200
    for path in (
        "/",
        "/companies",
        "/companies/1",
        "/companies/1/pdf",
        "/questions",
        "/leads",
        "/export/xlsx",
        "/audit",
        "/tables/",
        "/tables/company/list",
        "/jobseekers",
    ):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "Pirkan Puu" not in response.text


async def test_revoked_role_ends_the_session(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(STAFF)
    async with seeded.db.unit() as repo:
        user = await repo.users.get(STAFF)
        assert user is not None
        user.roles = ""
    assert (await client.get("/tickets")).status_code == 401


async def test_idle_session_expires(seeded: App, signed_in: SignIn) -> None:
    from dialogs.store.models import AdminSession

    client = await signed_in(COORDINATOR)
    async with seeded.db.unit() as repo:
        await repo.session.execute(
            update(AdminSession).values(last_seen_at=utcnow() - auth.SESSION_IDLE * 2)
        )
    assert (await client.get("/")).status_code == 401


async def test_company_page_in_finnish_and_audited(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    page = await client.get("/companies/2")
    assert page.status_code == 200
    assert "Pirkan Puu Oy" in page.text
    question = seeded.kb.questions["ma1"].text.fi
    assert question in page.text  # the question text in the reviewer's language
    assert 'src="data:image/png;base64,' in page.text  # the radar chart
    assert "Vertailu 12 saman ryhmän yritykseen" in page.text  # 12 of the same trade
    pdf = await client.get("/companies/2/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    async with seeded.db.unit() as repo:
        entries = await repo.audit.recent()
    actions = [(e.action, e.actor_id, e.subject.split("/")[0]) for e in entries]
    assert ("view_company", COORDINATOR, "company:2") in actions
    assert ("pdf", COORDINATOR, "company:2") in actions
    audit = await client.get("/audit")
    assert "view_company" in audit.text


async def test_retake_shows_the_change_and_the_note(signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    page = await client.get("/companies/1")
    assert "Voisimmeko jutella pakkauksista?" in page.text  # the note to the adviser
    assert "Yrityksen kaikki kartoitukset" in page.text  # two kartoitus: a retake


async def test_tampered_ids_find_nothing(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    async with seeded.db.unit() as repo:
        other = await repo.assessments.latest_done(3)
    assert other is not None
    for path in (
        "/companies/999",
        f"/companies/2?a={other.id}",  # an assessment of another company
        "/companies/2/pdf?a=99999",
        "/tickets/99999",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Hervannan" not in response.text
    assert (await client.get("/companies/abc")).status_code == 404
    assert (await client.get("/companies/-1")).status_code == 404


async def test_html_and_script_are_escaped(seeded: App, signed_in: SignIn) -> None:
    evil = "<script>alert(1)</script><b>x</b>"
    async with seeded.db.unit() as repo:
        await repo.session.execute(update(Company).where(Company.id == 2).values(name=evil))
        await repo.tickets.add(1002, "fi", "faq", evil)
        repo.misses.add(1002, "fi", evil, None, 0.0)
    client = await signed_in(COORDINATOR)
    for path in ("/companies", "/companies/2", "/tickets", "/leads", "/", "/jobseekers"):
        text = (await client.get(path)).text
        assert "<script>alert" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (await client.get("/companies/2")).text


async def test_filters_and_bad_filter_values(signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    everything = await client.get("/companies")
    assert "Pirkan Puu Oy" in everything.text
    searched = await client.get("/companies", params={"q": "pirkan"})
    assert "Pirkan Puu Oy" in searched.text and "Hervannan" not in searched.text
    unfinished = await client.get("/companies", params={"status": "unfinished"})
    assert "Pirkan Puu Oy" not in unfinished.text
    contact = await client.get("/companies", params={"contact": "yes"})
    assert "Nekalan Metalli" in contact.text and "Pirkan Puu" not in contact.text
    bad = await client.get(
        "/companies", params={"date_from": "eilen", "score_min": "paljon", "industry": "x'--"}
    )
    assert bad.status_code == 200
    assert "date_from" in bad.text and "score_min" in bad.text and "industry" in bad.text
    assert "Pirkan Puu Oy" in bad.text  # the bad filters were left out, not applied
    future = await client.get("/companies", params={"date_from": "2999-01-01"})
    assert "Pirkan Puu Oy" not in future.text
    refused = await client.get("/export/xlsx", params={"date_to": "31.12.2026"})
    assert refused.status_code == 400
    stats = await client.get("/questions", params={"industry": "manufacturing"})
    assert stats.status_code == 200 and "Vastaukset kysymyksittäin" in stats.text


async def test_forms_need_the_csrf_token(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    forged = await client.post("/tickets/1", data={"reply": "hi", "csrf": "guess"})
    assert forged.status_code == 403
    missing = await client.post("/leads/1", data={"status": "closed"})
    assert missing.status_code == 403
    async with seeded.db.unit() as repo:
        assert not await repo.ticket_messages.of(1)


async def _csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_reply_from_the_web_reaches_the_outbox_and_the_ticket(
    seeded: App, signed_in: SignIn
) -> None:
    client = await signed_in(STAFF)
    async with seeded.db.unit() as repo:
        ticket = (
            await repo.session.execute(select(Ticket).where(Ticket.topic == "faq"))
        ).scalar_one()
    token = await _csrf(client, f"/tickets/{ticket.id}")
    sent = await client.post(
        f"/tickets/{ticket.id}", data={"csrf": token, "reply": "Seuraava on <b>ma</b> 5.1."}
    )
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert "Seuraava on &lt;b&gt;ma&lt;/b&gt; 5.1." in page.text
    async with seeded.db.unit() as repo:
        stored = await repo.session.get(Ticket, ticket.id)
        messages = list((await repo.session.execute(select(TicketMessage))).scalars())
        outbox = list((await repo.session.execute(select(OutboxMessage))).scalars())
    assert stored is not None and stored.status == "answered" and stored.owner_id == STAFF
    assert [(m.author, m.staff_id) for m in messages] == [("staff", STAFF)]
    assert len(outbox) == 1 and outbox[0].chat_id == ticket.user_id
    row = outbox[0]
    assert (row.kind, row.status, row.user_id) == ("notice", "pending", ticket.user_id)
    operator = html.escape(seeded.kb.operator.name.get("fi"), quote=False)
    assert row.action["text"].startswith(
        f"💬 <b>Vastaus ({operator})</b> kysymykseesi #{ticket.id}:"
    )
    assert "&lt;b&gt;ma&lt;/b&gt;" in row.action["text"]  # escaped for Telegram's HTML
    # the door's sender takes it once: a second claim of the same row fails
    assert row.id is not None
    async with seeded.db.unit() as repo:
        assert await repo.outbox.claim(row.id) is True
    async with seeded.db.unit() as repo:
        assert await repo.outbox.claim(row.id) is False


async def test_lead_status_and_owner(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    token = await _csrf(client, "/leads")
    response = await client.post(
        "/leads/1", data={"csrf": token, "status": "in_progress", "take": "1"}
    )
    assert response.status_code == 303
    async with seeded.db.unit() as repo:
        lead = (await repo.contacts.open())[0]
    assert lead.status == "in_progress" and lead.owner_id == COORDINATOR


async def test_forget_removes_a_person_from_the_back_office(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    assert "Pirkan Puu Oy" in (await client.get("/companies/2")).text
    async with seeded.db.unit() as repo:
        await repo.forget(1001)  # the owner of company 2
    assert (await client.get("/companies/2")).status_code == 404
    assert "Pirkan Puu" not in (await client.get("/companies")).text
    export = await client.get("/export/csv")
    assert b"Pirkan Puu" not in export.content
    async with seeded.db.unit() as repo:
        about = (
            await repo.session.execute(
                select(AuditEntry).where(AuditEntry.subject.like("company:2%"))
            )
        ).all()
    assert about == []  # audit entries no longer point to the erased person


async def test_retention_removes_old_data(seeded: App) -> None:
    async with seeded.db.unit() as repo:
        counts = await purge(repo, utcnow() - timedelta(days=3650))
    assert counts["assessments"] == 0
    async with seeded.db.unit() as repo:
        active = await repo.users.get(1001)
        assert active is not None
        active.last_seen_at = utcnow() + timedelta(days=2)  # still using the bot
        repo.audit.log("view_company", "company:2", COORDINATOR, about_user_id=1001)
    async with seeded.db.unit() as repo:
        counts = await purge(repo, utcnow() + timedelta(days=1))
    assert counts["users"] >= 10  # idle people erased as by /forget
    assert counts["assessments"] == 1 and counts["audit"] >= 1  # old data of an active one
    async with seeded.db.unit() as repo:
        assert await repo.users.get(1001) is not None
        assert list((await repo.session.execute(select(Company))).scalars()) == []
        assert await repo.tickets.open() == []
        assert list((await repo.session.execute(select(AuditEntry))).scalars()) == []


async def test_tables_are_read_only_searchable_and_audited(seeded: App, signed_in: SignIn) -> None:
    client = await signed_in(COORDINATOR)
    listing = await client.get("/tables/company/list", params={"search": "pirkan"})
    assert listing.status_code == 200
    assert "Pirkan Puu Oy" in listing.text and "Hervannan" not in listing.text
    statics = await client.get("/tables/statics/css/main.css")
    assert statics.status_code == 200  # its assets come from this server, not a CDN
    assert "cdn" not in listing.text.lower()
    refused = await client.post("/tables/company/delete", data={"pks": "2"})
    assert refused.status_code == 405
    async with seeded.db.unit() as repo:
        assert await repo.companies.get(2) is not None
        entries = await repo.audit.recent()
    assert any(e.action == "view_table" and e.actor_id == COORDINATOR for e in entries)
