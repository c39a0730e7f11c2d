"""Telegram quick views: whole tickets, /ticket N, /leads with ticket and note, /stats N;
and the peer comparison's threshold."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.app import App
from dialogs import staffdesk, stats
from dialogs.quickviews import peer_lines
from dialogs.store.models import Assessment, utcnow
from tests.backoffice.conftest import COORDINATOR, STAFF
from tests.backoffice.seed import seed
from tests.conversation import Conversation

LONG = "Miten kierrätämme " + "hyvin pitkän kysymyksen sanat " * 10 + "LOPPU?"


async def test_tickets_are_shown_whole_and_one_by_number(seeded: App) -> None:
    async with seeded.db.unit() as repo:
        ticket = await repo.tickets.add(1005, "fi", "faq", LONG)
        assert ticket.id is not None
        number = ticket.id
    chat = Conversation(seeded.engine, user_id=STAFF, lang="fi")
    await chat.send("/tickets")
    assert "LOPPU?" in chat.last.text  # not cut at ~100 characters
    async with seeded.db.unit() as repo:
        await staffdesk.reply(repo, seeded.i18n, seeded.kb, number, STAFF, "Vastaus <tähän>")
        await repo.tickets.add(1005, "fi", "faq", "toinen")
    await chat.send(f"/ticket {number}")
    assert "LOPPU?" in chat.last.text and "Vastaus &lt;tähän&gt;" in chat.last.text
    await chat.send("/ticket 99999")
    assert "#99999" in chat.last.text
    await chat.send("/ticket kolme")
    assert "/ticket 12" in chat.last.text
    outsider = Conversation(seeded.engine, user_id=1003, lang="fi")
    await outsider.send(f"/ticket {number}")
    assert "LOPPU?" not in outsider.last.text


async def test_leads_show_ticket_numbers_and_the_note(seeded: App) -> None:
    chat = Conversation(seeded.engine, user_id=COORDINATOR, lang="fi")
    await chat.send("/leads")
    text = chat.last.text
    assert "#" in text and "Voisimmeko jutella pakkauksista?" in text
    assert "Tampereen Kierrätys Oy" in text or "=cmd" in text


async def test_stats_over_a_period(seeded: App) -> None:
    chat = Conversation(seeded.engine, user_id=COORDINATOR, lang="en")
    await chat.send("/stats")
    assert "13 completed assessments" in chat.last.text
    await chat.send("/stats 30")
    assert "the last 30 days" in chat.last.text
    assert "13 completed" not in chat.last.text
    await chat.send("/stats many")
    assert "/stats 30" in chat.last.text


async def test_peer_comparison_needs_ten_companies(app: App) -> None:
    await seed(app.db, app.kb, count=9)
    async with app.db.unit() as repo:
        assert await stats.peers_for(repo, app.kb, "manufacturing", "small") is None
    await seed(app.db, app.kb, count=1)  # a tenth company of the same trade
    async with app.db.unit() as repo:
        peers = await stats.peers_for(repo, app.kb, "manufacturing", "small")
        dashboard = await stats.dashboard(repo, app.kb)
    assert peers is not None and peers[:2] == ("industry", "manufacturing")
    quartiles = next(iter(peers[2].values()))
    assert quartiles.n == 10 and quartiles.q1 <= quartiles.median <= quartiles.q3
    assert "manufacturing" in dashboard.peers_industry
    assert dashboard.peers_size == {}  # no size class has ten
    lines = peer_lines(app.i18n("en"), app.kb, {"strategy": 50.0}, peers)
    assert "10 companies" in lines[0] and len(lines) == 2
    assert peer_lines(app.i18n("en"), app.kb, {}, None) == []


async def test_a_retake_counts_once_in_the_peer_group(app: App) -> None:
    await seed(app.db, app.kb, count=10)
    async with app.db.unit() as repo:
        await repo.session.execute(
            update(Assessment).values(started_at=utcnow() - timedelta(days=1))
        )
        peers = await stats.peers_for(repo, app.kb, "manufacturing", None)
    assert peers is not None
    assert max(q.n for q in peers[2].values()) == 10  # 11 finished, 10 companies


async def test_results_and_pdf_compare_with_peers(app: App, chat, kb) -> None:
    from dialogs.actions import SendFile
    from tests.dialogs.test_kartoitus import answer_all, start_company

    me = chat(lang="fi")
    await start_company(me, "Vertailu Oy")
    await answer_all(me, kb)  # the first option: manufacturing, a solo company
    await me.press("k:sum:done")
    await me.press(next(p for p in me.last.payloads if p.endswith(":details")))
    assert "Vertailu" not in me.said.replace("Vertailu Oy", "")  # no group of 10 yet
    await seed(app.db, kb, count=10)
    other = chat(user_id=77, lang="fi")
    await start_company(other, "Toinen Oy")
    await answer_all(other, kb)
    await other.press("k:sum:done")
    pdf = next(p for p in other.last.payloads if p.endswith(":pdf"))
    # the comparison is with the per-theme details, behind their button
    await other.press(next(p for p in other.last.payloads if p.endswith(":details")))
    assert "👥 Vertailu 1" in other.said  # 10 seeded and the first: 11 of the same trade
    await other.press(pdf)
    document = next(a for a in other.actions if isinstance(a, SendFile))
    assert document.data.startswith(b"%PDF")
    async with app.db.unit() as repo:
        from bot.backoffice.review import ReviewContext
        from dialogs.results import report_data

        assessment = (await repo.assessments.of_user(77))[-1]
        company = await repo.companies.get(assessment.company_id)
        data, _ = await report_data(ReviewContext(kb, repo, app.i18n("fi")), assessment, company)
    titles = [title for title, _ in data.sections]
    assert "Vertailu muihin" in titles


async def test_mydata_includes_the_ticket_conversation(seeded: App) -> None:
    import json

    from dialogs.actions import SendFile

    async with seeded.db.unit() as repo:
        ticket = await repo.tickets.add(1004, "en", "faq", "When is the next workshop?")
        assert ticket.id is not None
        await staffdesk.reply(repo, seeded.i18n, seeded.kb, ticket.id, STAFF, "On Monday.")
    me = Conversation(seeded.engine, user_id=1004, lang="en")
    await me.send("/mydata")
    dump = json.loads(next(a for a in me.actions if isinstance(a, SendFile)).data)
    conversation = next(t["conversation"] for t in dump["tickets"] if t["id"] == ticket.id)
    assert [(m["author"], m["text"]) for m in conversation] == [("staff", "On Monday.")]


async def test_the_console_shows_replies_from_the_back_office(app: App, tmp_path) -> None:
    import io

    from bot.adapters.console import ConsoleDoor

    async with app.db.unit() as repo:
        await repo.users.lock(42, "en")
        ticket = await repo.tickets.add(42, "en", "faq", "Is there a workshop in May?")
        assert ticket.id is not None
        await staffdesk.reply(repo, app.i18n, app.kb, ticket.id, STAFF, "Yes, on the 5th.")
        await repo.outbox.add(
            43, {"type": "send", "text": "for someone else"}, kind="notice", user_id=43
        )
    stdout = io.StringIO()
    door = ConsoleDoor(
        app.engine,
        user_id=42,
        lang="en",
        out_dir=tmp_path,
        stdin=io.StringIO("/help\n/help\n"),
        stdout=stdout,
    )
    await door.run()
    assert stdout.getvalue().count("Yes, on the 5th.") == 1  # shown once
    async with app.db.unit() as repo:
        assert [m.chat_id for m in await repo.outbox.due()] == [43]
