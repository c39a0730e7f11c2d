"""Regression tests for problems found in review: each would fail on the old code."""

from __future__ import annotations

import json

from bot.app import App
from dialogs.actions import SendFile, Toast
from dialogs.events import Button
from dialogs.kartoitus import valid_business_id
from dialogs.render.charts import radar_png
from knowledge.loader import Knowledge
from tests.dialogs.test_kartoitus import current_qid, start_company

STAFF_CHAT = -100500


async def test_a_deep_link_as_first_contact_still_says_it_is_a_bot(chat) -> None:
    me = chat(lang="en")
    await me.send("/start tyopaja")
    assert "I am a bot" in me.texts[0] and "/privacy" in me.texts[0]
    assert "p:int:done" in me.last.payloads


async def test_a_first_message_that_is_a_question_is_answered_too(chat) -> None:
    me = chat(lang="fi")
    await me.send("mikä on palkkatuki?")
    assert "Olen botti" in me.texts[0]
    assert any(t.startswith("💡") for t in me.texts)


def test_unicode_digits_in_a_business_id_are_refused() -> None:
    assert valid_business_id("1234567-²") is None
    assert valid_business_id("١٢٣٤٥٦٧-١") is None


def test_a_dollar_in_a_company_name_is_drawn_as_text() -> None:
    png = radar_png(["a", "b", "c"], [10, 20, 30], title="A$_$B Oy")
    assert png.startswith(b"\x89PNG")


async def test_mydata_has_everything(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("who won the football world cup in 1966?")
    await me.send("/mydata")
    dump = json.loads(next(a for a in me.actions if isinstance(a, SendFile)).data)
    assert dump["unanswered_questions"][0]["text"].startswith("who won")
    assert dump["dialog_state"]["data"]["lastq"].startswith("who won")
    assert "contact_requests" in dump


async def test_an_old_erase_confirmation_does_not_erase(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    actions = await me.event(Button("forget:yes:1000", 1))
    assert any(isinstance(a, Toast) and "expired" in a.text for a in actions)
    async with app.db.unit() as repo:
        assert await repo.users.get(me.user_id) is not None
    await me.send("/forget")
    fresh = next(p for p in me.last.payloads if p.startswith("forget:yes:"))
    await me.press(fresh)
    async with app.db.unit() as repo:
        assert await repo.users.get(me.user_id) is None


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


async def test_an_answered_lead_leaves_the_leads_list(chat) -> None:
    me = chat(lang="en")
    await me.send("/tyopaja")
    await me.press("p:int:t.food")
    await me.press("p:int:done")
    await me.press("p:lang:any")
    await me.press("p:time:full")
    await me.press("p:learn:done")
    await me.press("pl:ravintola_kierto:card")
    await me.press("pl:ravintola_kierto:int")
    await me.press("pl:ravintola_kierto:ok")
    admin = chat(user_id=7, lang="en")
    await admin.send("/leads")
    assert "🧰" in admin.said
    ticket = me.elsewhere[-1].text.split("#", 1)[1].split("<", 1)[0]
    await admin.send(f"/reply {ticket} We will call you on Monday.")
    await admin.send("/leads")
    assert "🧰" not in admin.said and "No new leads" in admin.said
