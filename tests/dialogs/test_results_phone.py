"""Results as a phone shows them, open questions answered later, the note to the adviser,
what follows "contact me", a returning user's /start, and a bot whose operator has no staff
answering (the shipped example profile): nothing promises a person there."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import pytest
from pypdf import PdfReader

from bot.app import App, build_app
from bot.config import Settings
from dialogs.actions import SendFile
from dialogs.faq_match import FaqMatcher
from knowledge.loader import Knowledge
from locales.i18n import I18n
from tests.conversation import Conversation
from tests.dialogs.test_kartoitus import answer_all, start_company

UNSURE_ON = {"st2", "en1", "wa6"}  # answered "don't know": three open questions


def unsure(qid: str, options: list[str]) -> str:
    return "dk" if qid in UNSURE_ON and "dk" in options else options[0]


async def finished(me: Conversation, kb: Knowledge, note: str = "Kiitos!") -> int:
    await start_company(me, "Puhelin Oy")
    await answer_all(me, kb, unsure, text=note)
    await me.press("k:sum:done")
    button = next(p for p in me.last.payloads if p.endswith(":pdf"))
    return int(button.split(":")[1])


async def test_the_first_screen_is_level_and_three_steps(chat, kb: Knowledge) -> None:
    me = chat(lang="fi")
    aid = await finished(me, kb)
    first = me.last.text
    assert first.startswith("📊") and "taso" in first
    assert re.search(r"^3\. <b>", first, re.M)
    assert "itsearvio" in first  # a self-assessment, not a certificate
    assert "❔ 3 kysymystä jäi auki" in first
    for theme in kb.questionnaire.themes:  # per-theme details are behind a button
        assert theme.title.fi not in first
    assert len(first) < 2500, "about one phone screen"
    assert me.last.payloads[:2] == [f"kr:{aid}:details", f"kr:{aid}:open"]
    await me.press(f"kr:{aid}:details")
    assert all(theme.title.fi in me.last.text for theme in kb.questionnaire.themes)


async def test_open_questions_are_listed_and_can_be_answered_now(
    app: App, chat, kb: Knowledge
) -> None:
    me = chat(lang="fi")
    aid = await finished(me, kb)
    await me.press(f"kr:{aid}:open")
    listing = me.last.text
    for qid in UNSURE_ON:
        assert kb.questions[qid].text.fi in listing
    assert f"kr:{aid}:fix" in me.last.payloads
    await me.press(f"kr:{aid}:fix")
    asked = []
    for _ in range(5):  # only the open ones, in order, then the summary
        if "k:sum:done" in me.keyboard_message.payloads:
            break
        qid = next(p.split(":")[1] for p in me.last.payloads if p.startswith("k:"))
        asked.append(qid)
        await me.press(f"k:{qid}:yes")
    assert asked == ["st2", "en1", "wa6"]
    await me.press("k:sum:done")
    assert "jäi auki" not in me.last.text
    async with app.db.unit() as repo:
        assessment = await repo.assessments.get(aid)
    assert assessment is not None and assessment.status == "done"
    assert assessment.result is not None and assessment.result["gaps"] == []


async def test_the_note_reaches_the_ticket_the_pdf_and_the_leads_and_a_menu_follows(
    chat, kb: Knowledge
) -> None:
    me = chat(lang="fi")
    note = "Haluamme tietää lisää purkumateriaalien kierrätyksestä."
    aid = await finished(me, kb, note=note)
    await me.press(f"kr:{aid}:pdf")
    document = next(a for a in me.actions if isinstance(a, SendFile) and a.kind == "document")
    pages = PdfReader(io.BytesIO(document.data)).pages
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in pages)
    assert note in text
    assert "ei todistus" in text  # the self-assessment line
    assert kb.questions["wa6"].text.fi in text  # the open questions
    assert "kierto@example.org" in text  # how to reach the operator
    await me.press(f"kr:{aid}:contact")
    await me.press(f"kr:{aid}:ok")
    staff = [m for m in me.elsewhere if m.chat_id == -100500]
    assert len(staff) == 1 and note in staff[0].text
    assert "m:kartoitus" in me.last.payloads  # the menu follows: no dead end
    admin = chat(user_id=7, lang="fi")
    await admin.send("/leads")
    assert "Puhelin Oy" in admin.said and note in admin.said


async def test_a_returning_user_gets_a_short_welcome_back(chat) -> None:
    me = chat(lang="fi")
    await me.send("/start")
    first = me.said
    assert "Olen botti" in first and "/privacy" in first
    me.actions.clear()
    await me.send("/start")
    assert me.texts == ["Tervetuloa takaisin! Mitä haluaisit tehdä?"]
    assert "m:kartoitus" in me.last.payloads


# ---------------------------------------------------------------------- no staff


@pytest.fixture
async def unstaffed(settings: Settings, example_kb: Knowledge, i18n: I18n) -> AsyncIterator[App]:
    """The bot as shipped: the example operator profile, nobody answering."""
    app = await build_app(
        settings,
        kb=example_kb,
        i18n=i18n,
        matcher=FaqMatcher(example_kb.faq, example_kb.synonyms.concepts),
    )
    yield app
    await app.close()


PROMISES = re.compile(
    r"ottaa sinuun yhteyttä|otetaan yhteyttä|will contact you|contact you here|"
    r"voin välittää kysymyksesi|pass your question to a person|koordinaattori|coordinator",
    re.I,
)


async def test_without_staff_nothing_promises_a_person(
    unstaffed: App, example_kb: Knowledge
) -> None:
    for lang in ("fi", "en"):
        me = Conversation(unstaffed.engine, user_id=7 if lang == "fi" else 8, lang=lang)
        seen: list[str] = []
        contact = example_kb.operator.contact.get(lang)
        await me.send("/start")
        seen.append(me.said)
        await me.send("/human")
        assert contact in me.said  # where a person can be found instead
        seen.append(me.said)
        await me.send("/tyopaja")
        seen.append(me.said)
        await me.press("pl:ravintola_kierto:card")
        seen.append(me.said)
        await me.press("pl:ravintola_kierto:int")
        assert contact in me.said
        seen.append(me.said)
        await start_company(me, "Yksin Oy")
        await answer_all(me, example_kb)
        await me.press("k:sum:done")
        seen.append(me.said)
        aid = next(p for p in me.last.payloads if p.endswith(":contact")).split(":")[1]
        await me.press(f"kr:{aid}:contact")
        assert contact in me.said
        seen.append(me.said)
        await me.send("/privacy")
        seen.append(me.said)
        everything = "\n".join(seen)
        assert not PROMISES.search(everything), PROMISES.search(everything)
    async with unstaffed.db.unit() as repo:
        assert await repo.tickets.open() == []
        assert await repo.contacts.open() == []
