"""KIERTO-kartoitus conversations: the whole questionnaire in each language, branching,
back/skip/resume after a restart, changing answers from the summary, results, PDF,
contact requests, retakes and bad input."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.app import App
from bot.config import Settings
from dialogs.actions import SendFile
from dialogs.kartoitus import valid_business_id
from dialogs.render.charts import radar_png
from knowledge.loader import Knowledge
from tests.conversation import Conversation

Chooser = Callable[[str, list[str]], str]


def first_option(qid: str, options: list[str]) -> str:
    return options[0]


def current_qid(me: Conversation) -> str | None:
    for payload in me.keyboard_message.payloads:
        parts = payload.split(":")
        if parts[0] == "k" and parts[1] not in ("sum", "sumt", "co", "yt", "res"):
            return parts[1]
    return None


async def start_company(
    me: Conversation, name: str = "Testi Oy", business_id: str | None = None
) -> None:
    await me.send("/kartoitus")
    if any(p.startswith("k:co:") for p in me.last.payloads):
        await me.press("k:co:new")
    await me.send(name)
    if business_id:
        await me.send(business_id)
    else:
        await me.press("k:yt:skip")


async def answer_all(
    me: Conversation, kb: Knowledge, choose: Chooser = first_option, text: str = "Kiitos!"
) -> list[str]:
    """Answer every question until the summary; returns the question ids asked, in order."""
    asked: list[str] = []
    for _ in range(200):
        if "k:sum:done" in me.keyboard_message.payloads:
            return asked
        qid = current_qid(me)
        assert qid is not None, me.last.text
        asked.append(qid)
        question = kb.questions[qid]
        if question.type == "text":
            await me.send(text)
            continue
        options = [o.id for o in kb.options[qid]]
        pick = choose(qid, options)
        if question.type == "multi":
            await me.press(f"k:{qid}:t.{pick}")
            await me.press(f"k:{qid}:done")
        else:
            await me.press(f"k:{qid}:{pick}")
    raise AssertionError("the questionnaire did not end")


async def stored_answers(app: App, user_id: int) -> dict[str, object]:
    async with app.db.unit() as repo:
        assessment = (await repo.assessments.of_user(user_id))[-1]
        return {q: (a.value, a.version) for q, a in (await repo.answers.of(assessment.id)).items()}


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
async def test_whole_questionnaire_in_each_language(
    app: App, chat, kb: Knowledge, lang: str
) -> None:
    me = chat(lang=lang)
    await me.send("/start")
    await me.press("m:company")
    await me.send("Kierto Testi Oy")
    await me.press("k:yt:skip")
    first = current_qid(me)
    assert kb.questions[first].text.get(lang) in me.last.text
    asked = await answer_all(me, kb)
    assert len(asked) >= 36
    themes = {kb.theme_of[q].id for q in asked if q in kb.theme_of}
    assert len(themes) == 8
    await me.press("k:sum:done")
    # one screen first: the level and the three steps; the chart and themes behind a button
    results = me.texts[-1]
    assert results.startswith("📊")
    assert results.count("\n1. ") + results.startswith("1. ") <= 1
    assert re.search(r"^1\. <b>", results, re.M) and re.search(r"^3\. <b>", results, re.M)
    assert not [f for f in me.files if f.kind == "photo"]
    await me.press(next(p for p in me.last.payloads if p.endswith(":details")))
    photos = [f for f in me.files if f.kind == "photo"]
    assert photos and photos[-1].data.startswith(b"\x89PNG")
    for theme in kb.questionnaire.themes:
        assert theme.title.get(lang) in me.texts[-1]
    stored = await stored_answers(app, me.user_id)
    assert set(stored) == set(asked)
    assert {version for _, version in stored.values()} == {kb.questionnaire.version}


async def test_branching_skips_product_life_for_a_service_company(chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)

    def services(qid: str, options: list[str]) -> str:
        return "services" if qid == "offering" else options[0]

    asked = await answer_all(me, kb, services)
    assert not [q for q in asked if q.startswith("pl")]
    me2 = chat(user_id=43, lang="en")
    await start_company(me2)

    def products(qid: str, options: list[str]) -> str:
        return "products" if qid == "offering" else options[0]

    assert [q for q in await answer_all(me2, kb, products) if q.startswith("pl")]


async def test_progress_line_back_and_skip(app: App, chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)
    assert "question 1 of" in me.last.text and "▱" in me.last.text
    q1 = current_qid(me)
    await me.press(f"k:{q1}:{kb.options[q1][2].id}")
    q2 = current_qid(me)
    assert "question 2 of" in me.last.text
    await me.press(f"k:{q2}:back")
    assert current_qid(me) == q1
    assert f"✓ {kb.options[q1][2].label.get('en')}" in " ".join(me.labels)
    await me.press(f"k:{q1}:skip")
    assert current_qid(me) == q2
    await me.press(f"k:{q2}:skip")
    stored = await stored_answers(app, me.user_id)
    assert set(stored) == {q1}  # skipping keeps the earlier answer and stores nothing new


async def test_resume_after_a_restart_at_the_same_question(
    settings: Settings, kb: Knowledge, make_app
) -> None:
    app = await make_app(settings)
    me = Conversation(app.engine, user_id=77, lang="fi")
    await start_company(me, "Jatko Oy")
    for _ in range(5):
        qid = current_qid(me)
        await me.press(f"k:{qid}:{kb.options[qid][0].id}")
    where = current_qid(me)
    before = await stored_answers(app, 77)
    await app.close()

    restarted = await make_app(settings)  # a new engine on the same database
    me2 = Conversation(restarted.engine, user_id=77, lang="fi")
    await me2.send("/start")
    assert "m:resume" in me2.last.payloads
    await me2.press("m:resume")
    assert current_qid(me2) == where
    await me2.send("/cancel")
    await me2.send("/kartoitus")
    assert current_qid(me2) is None  # asks: continue or start over
    await me2.press("k:res:go")
    assert current_qid(me2) == where
    assert await stored_answers(restarted, 77) == before
    asked = await answer_all(me2, kb)
    assert asked[0] == where
    await me2.press("k:sum:done")
    assert me2.last.text.startswith("📊")  # the results, in the restarted bot
    await restarted.close()


async def test_change_an_answer_from_the_summary(app: App, chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)
    await answer_all(me, kb)
    assert "k:sum:energy" in me.last.payloads
    await me.press("k:sum:energy")
    target = kb.questionnaire.themes[2].questions[0]  # en1
    await me.press(f"k:sumt:{target.id}")
    assert current_qid(me) == target.id
    await me.press(f"k:{target.id}:no")
    assert "k:sum:done" in me.last.payloads  # straight back to the summary
    stored = await stored_answers(app, me.user_id)
    assert stored[target.id][0] == "no"


async def test_checklist_toggles_in_place(chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)
    while (qid := current_qid(me)) != "en3":
        await me.press(f"k:{qid}:skip")
    message = me.keyboard_message
    await me.press("k:en3:t.led")
    assert me.keyboard_message.id == message.id  # edited, not sent again
    assert any(label.startswith("☑️") for label in me.labels)
    await me.press("k:en3:t.none")  # exclusive: clears the others
    ticked = [label for label in me.labels if label.startswith("☑️")]
    assert len(ticked) == 1
    await me.press("k:en3:t.none")
    await me.press("k:en3:done")
    assert me.toasts[-1].alert  # nothing ticked: asked to tick or skip
    assert current_qid(me) == "en3"


async def test_text_where_buttons_are_expected_and_stale_buttons(chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)
    q1 = current_qid(me)
    await me.send("I don't want to press buttons")
    assert "buttons below the question" in me.texts[0]
    assert current_qid(me) == q1
    await me.press(f"k:{q1}:{kb.options[q1][0].id}")
    q2 = current_qid(me)
    await me.press(f"k:{q1}:{kb.options[q1][1].id}", message_id=1)
    assert "earlier step" in me.toasts[-1].text
    assert current_qid(me) == q2


async def test_free_text_over_the_limit_is_refused_not_truncated(
    app: App, chat, kb: Knowledge
) -> None:
    me = chat(lang="en")
    await start_company(me)
    while current_qid(me) != "pe5":
        await me.press(f"k:{current_qid(me)}:skip")
    limit = kb.questions["pe5"].max_len
    await me.send("x" * (limit + 1))
    assert "limit is" in me.said and "Nothing was saved" in me.said
    assert "pe5" not in await stored_answers(app, me.user_id)
    await me.send("We would like help with textile waste <b>now</b>")
    async with app.db.unit() as repo:
        assessment = (await repo.assessments.of_user(me.user_id))[-1]
        stored = await repo.answers.of(assessment.id)
    assert stored["pe5"].text == "We would like help with textile waste <b>now</b>"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("0112038-9", "0112038-9"),
        ("01120389", "0112038-9"),
        ("112038-9", "0112038-9"),
        (" 1572860-0 ", "1572860-0"),
        ("1234567-1", "1234567-1"),
    ],
)
def test_valid_business_ids(raw: str, canonical: str) -> None:
    assert valid_business_id(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["1234567-8", "123456", "abcdefg-h", "1234567-", "12345678-9", "", "0000001-1"]
)
def test_invalid_business_ids(raw: str) -> None:
    assert valid_business_id(raw) is None


async def test_business_id_is_checked_and_asked_again(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/kartoitus")
    await me.send("Tunnus Oy")
    await me.send("1234567-8")
    assert "check digit" in me.said
    await me.send("0112038-9")
    assert current_qid(me) is not None
    async with app.db.unit() as repo:
        company = (await repo.companies.of_user(me.user_id))[0]
    assert (company.name, company.business_id) == ("Tunnus Oy", "0112038-9")


async def test_pdf_report_and_contact_request(app: App, chat, kb: Knowledge) -> None:
    me = chat(lang="fi")
    await start_company(me, "Raportti Oy", "0112038-9")
    await answer_all(me, kb)
    await me.press("k:sum:done")
    pdf_button = next(p for p in me.last.payloads if p.endswith(":pdf"))
    await me.press(pdf_button)
    document = next(a for a in me.actions if isinstance(a, SendFile))
    assert document.kind == "document" and document.data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", document.data)) == 1  # one page
    aid = pdf_button.split(":")[1]
    await me.press(f"kr:{aid}:contact")
    assert "Y-tunnuksen" in me.said  # what will be shared is said before consent
    async with app.db.unit() as repo:
        assert await repo.contacts.open() == []  # nothing before consent
    await me.press(f"kr:{aid}:ok")
    await me.press(f"kr:{aid}:ok")  # a double press
    async with app.db.unit() as repo:
        requests = await repo.contacts.open()
        tickets = await repo.tickets.open()
    assert len(requests) == 1 and len(tickets) == 1
    staff = [m for m in me.elsewhere if m.chat_id == -100500]
    assert len(staff) == 1 and "Raportti Oy" in staff[0].text and "0112038-9" in staff[0].text


async def test_someone_elses_results_buttons_are_refused(chat, kb: Knowledge) -> None:
    owner = chat(user_id=50, lang="en")
    await start_company(owner)
    await answer_all(owner, kb)
    await owner.press("k:sum:done")
    pdf = next(p for p in owner.last.payloads if p.endswith(":pdf"))
    other = chat(user_id=51, lang="en")
    await other.send("/start")
    await other.press(pdf)
    assert not [a for a in other.actions if isinstance(a, SendFile)]
    assert "not valid" in other.toasts[-1].text


async def test_retake_shows_the_change_per_theme(chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me, "Kasvu Oy")
    await answer_all(me, kb, lambda qid, options: options[-3] if len(options) > 3 else options[0])
    await me.press("k:sum:done")
    first_results = next(t for t in me.texts if t.startswith("📊"))
    assert "Previous assessment" not in first_results
    await me.send("/kartoitus")
    assert "k:co:new" in me.last.payloads
    company_button = next(p for p in me.last.payloads if p != "k:co:new")
    await me.press(company_button)
    assert "✓" in " ".join(me.labels)  # the profile is carried over from the last time
    await answer_all(me, kb)
    await me.press("k:sum:done")
    second = next(t for t in me.texts if t.startswith("📊"))
    assert "Previous assessment" in second
    assert re.search(r"\((\+\d+|-\d+|±0)\)", second)


def test_unicode_digits_in_a_business_id_are_refused() -> None:
    assert valid_business_id("1234567-²") is None
    assert valid_business_id("١٢٣٤٥٦٧-١") is None


def test_a_dollar_in_a_company_name_is_drawn_as_text() -> None:
    png = radar_png(["a", "b", "c"], [10, 20, 30], title="A$_$B Oy")
    assert png.startswith(b"\x89PNG")


async def test_later_leaves_the_flow_and_resumes_at_that_question(chat, kb: Knowledge) -> None:
    me = chat(lang="en")
    await start_company(me)
    for _ in range(3):
        qid = current_qid(me)
        await me.press(f"k:{qid}:{kb.options[qid][0].id}")
    await me.press(f"k:{current_qid(me)}:skip")  # a skipped question before the pause
    paused = current_qid(me)
    await me.press(f"k:{paused}:pause")
    await me.send("mikä on palkkatuki")  # no question is open: the FAQ answers
    assert any(t.startswith("💡") for t in me.texts)
    await me.send("/kartoitus")
    await me.press("k:res:go")
    assert current_qid(me) == paused  # not the skipped one
