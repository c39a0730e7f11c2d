"""The engine, driven directly: units of work, redelivery, stale and forged buttons,
per-user order, groups, and bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.app import App
from dialogs.actions import Send, Toast
from dialogs.engine import Engine, KeyedLocks
from dialogs.events import Button, Command, Event, Sender, Text, parse_command
from dialogs.router import Context, Router
from dialogs.store.models import DialogState, ProcessedUpdate, User


async def count(app: App, model: type) -> int:
    async with app.db.unit() as repo:
        return (await repo.session.execute(select(func.count()).select_from(model))).scalar_one()


def test_parse_command() -> None:
    assert parse_command("/start") == Command("start", "")
    assert parse_command("/Start@KiertoBot  tyopaja ") == Command("start", "tyopaja")
    assert parse_command("/ask mikä on työpaja?") == Command("ask", "mikä on työpaja?")
    assert parse_command("/") is None
    assert parse_command("/ space") is None
    assert parse_command("not a command") is None
    assert parse_command("/päivää") == Command("päivää", "")
    assert parse_command("/a-b") is None


async def test_first_contact_greets_and_says_it_is_a_bot(chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    assert "I am a bot" in me.said
    assert "/privacy" in me.said
    assert {"m:company", "m:jobseeker", "m:visitor"} <= set(me.last.payloads)


async def test_first_message_that_is_not_start_still_greets(chat) -> None:
    me = chat(lang="en")
    await me.send("hello there")
    assert "I am a bot" in me.said


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


async def test_redelivered_update_changes_nothing(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    first = await me.press("m:company", update_id=555)
    assert first, "the first delivery is handled"
    states_before = await count(app, ProcessedUpdate)
    again = await me.press("m:company", update_id=555)
    assert again == []
    assert await count(app, ProcessedUpdate) == states_before
    async with app.db.unit() as repo:
        state = await repo.states.get(me.user_id)
        assert (state.flow, state.step) == ("kartoitus", "name")


async def test_stale_button_gets_polite_answer_and_no_write(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.press("m:company")
    await me.send("Stale Oy")
    await me.press("k:yt:skip")
    first = me.keyboard_message
    payloads, first_id = list(first.payloads), first.id
    qid = payloads[0].split(":")[1]
    await me.press(payloads[0], first_id)  # answer the first question
    # the answered question turned into the next one, in place, with new buttons
    assert first.payloads and first.payloads[0].split(":")[1] != qid
    async with app.db.unit() as repo:
        before = (await repo.states.get(me.user_id)).model_dump()
    # another button of the old question (a double click, or an old message)
    actions = await me.press(payloads[1], first_id)
    assert actions == [
        Toast("That button belongs to an earlier step. Please use the latest message.")
    ]
    async with app.db.unit() as repo:
        after = (await repo.states.get(me.user_id)).model_dump()
        answers = await repo.answers.of(before["data"]["assessment"])
    assert after["step"] == before["step"] and after["data"] == before["data"]
    assert answers[qid].value == payloads[0].split(":")[2]


NOT_VALID = "That button is not valid."
EARLIER = "That button belongs to an earlier step. Please use the latest message."


@pytest.mark.parametrize(
    ("payload", "answer"),
    [
        ("k:st1:yes", EARLIER),  # a flow the user is not in
        ("p:int:t.food", EARLIER),
        ("zz:whatever", NOT_VALID),
        ("m:nonexistent", NOT_VALID),
        ("kr:999:pdf", NOT_VALID),  # not the user's (nor anyone's) assessment
        ("pl:nope:card", NOT_VALID),
        ("faq:no_such_entry", NOT_VALID),
        ("x" * 65, NOT_VALID),
        ("k:%00:ä", NOT_VALID),
        ("", NOT_VALID),
        ("lang:de", NOT_VALID),
        ("forget:maybe", NOT_VALID),
        ("forget:yes:99999999999", NOT_VALID),  # a confirmation from the future
        ("kr:99999999999999999999:pdf", NOT_VALID),  # past a 64-bit integer
        ("kr:-1:pdf", NOT_VALID),
        ("kr:1:pdf:more", NOT_VALID),
        ("pl:ravintola_kierto.card", NOT_VALID),  # the old style
    ],
)
async def test_forged_buttons_are_refused_without_writing(
    app: App, chat, payload: str, answer: str
) -> None:
    me = chat(lang="en")
    await me.send("/start")
    async with app.db.unit() as repo:
        before = (await repo.states.get(me.user_id)).model_dump()
    actions = await me.event(Button(payload, 1))
    assert actions == [Toast(answer)]
    assert not [a for a in actions if isinstance(a, Send)]
    async with app.db.unit() as repo:
        after = (await repo.states.get(me.user_id)).model_dump()
    assert before == after


async def test_unknown_command(chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("/frobnicate now")
    assert "I don't know the command /frobnicate" in me.said


async def test_staff_commands_need_the_role(chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("/tickets")
    assert "for staff only" in me.said
    admin = chat(user_id=7, lang="en")  # ADMIN_IDS=7 in the test settings
    await admin.send("/start")
    await admin.send("/tickets")
    assert "No open tickets" in admin.said


@pytest.mark.parametrize("text", ["", "   ", "\n"])
async def test_empty_text(chat, text: str) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send(text)
    assert "empty" in me.said


async def test_ten_thousand_characters_are_refused_politely(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("x" * 10_000)
    assert "too long" in me.said and "4,096" in me.said
    async with app.db.unit() as repo:
        assert await repo.misses.recent() == []


async def test_emoji_and_right_to_left_text_are_handled(chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("🤔🤔 مرحبا كيف حالك ‏שלום <b>bold</b>")
    assert me.said  # answered, not crashed
    assert "<b>bold</b>" not in me.said


async def test_media_gets_a_friendly_hint_and_the_open_question_again(chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.press("m:company")
    await me.send_media("sticker")
    assert "only read text" in me.texts[0]
    assert "company's name" in me.texts[1]


async def test_groups_are_ignored_except_the_staff_chat(chat) -> None:
    group = chat(lang="en", chat_id=-999, chat_type="group")
    assert await group.send("/start") == []
    assert await group.send("hello bot") == []
    staff = chat(user_id=7, lang="en", chat_id=-100500, chat_type="supergroup")
    await staff.send("/tickets")
    assert "Ei avoimia tikettejä" in staff.said  # the staff chat reads the default language
    assert await staff.send("just chatting among staff") == []


async def test_a_failing_step_rolls_back_and_apologises(app: App) -> None:
    router = Router("boom")

    @router.command("boom")
    async def boom(ctx: Context, args: str) -> None:
        ctx.user.locale = "sv"
        ctx.go("kartoitus", "name")
        raise RuntimeError("kaboom")

    engine = Engine(app.db, app.kb, app.i18n, app.engine.services, [router])
    sender = Sender(99, 99, "en")
    await app.engine.handle(Event(sender, Command("start")))
    actions = await engine.handle(Event(sender, Command("boom"), update_id=77))
    assert isinstance(actions[0], Send) and "went wrong" in actions[0].text
    async with app.db.unit() as repo:
        user = await repo.users.get(99)
        state = await repo.states.get(99)
        assert user is not None and user.locale == "en"
        assert state.flow is None
        # not marked as processed: a redelivery may try again
        assert await repo.session.get(ProcessedUpdate, 77) is None


async def test_one_users_updates_never_run_concurrently(app: App) -> None:
    router = Router("slow")
    log: list[str] = []

    @router.command("slow")
    async def slow(ctx: Context, args: str) -> None:
        log.append(f"start {args}")
        await asyncio.sleep(0.02)
        log.append(f"end {args}")

    engine = Engine(app.db, app.kb, app.i18n, app.engine.services, [router])
    sender = Sender(5, 5, "en")
    await app.engine.handle(Event(sender, Command("start")))
    await asyncio.gather(
        *(engine.handle(Event(sender, Command("slow", str(i)), i)) for i in range(1, 4))
    )
    assert log == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert len(engine.locks) == 0  # locks are dropped when nobody waits


async def test_keyed_locks_let_different_keys_run_together() -> None:
    locks = KeyedLocks()
    running: set[int] = set()
    overlap = False

    async def work(key: int) -> None:
        nonlocal overlap
        async with locks.hold(key):
            running.add(key)
            await asyncio.sleep(0.01)
            overlap = overlap or len(running) > 1
            running.discard(key)

    await asyncio.gather(work(1), work(2))
    assert overlap
    assert len(locks) == 0


async def test_users_are_created_once_and_locale_follows_telegram(app: App) -> None:
    await app.engine.handle(Event(Sender(8, 8, "sv-FI"), Text("hej")))
    await app.engine.handle(Event(Sender(8, 8, "en"), Text("hello")))
    assert await count(app, User) == 1
    async with app.db.unit() as repo:
        assert (await repo.users.get(8)).locale == "en"
    assert await count(app, DialogState) == 1


async def test_unknown_language_falls_back_to_finnish(chat) -> None:
    me = chat(lang="de")
    await me.send("/start")
    assert me.texts == [
        "👋 Hei! Olen <b>kierto-bot</b>. Kerron KIERTO-hankkeesta (Kiertotaloudesta kasvua, "
        "2021–2023) ja sen vapaasti käytettävistä tuotoksista, kuten KIERTO-kartoituksesta, "
        "joka on kiertotalouden itsearvio yrityksille. Bottia ylläpitää Esimerkkikaupungin "
        "työllisyyspalvelut. Olen botti, en ihminen, mutta voin välittää kysymyksesi ihmiselle."
        "\n\n🔒 Tallennan Telegram-käyttäjätunnisteesi, kielesi ja antamasi vastaukset. Niiden "
        "avulla voit jatkaa siitä, mihin jäit, ja ylläpitäjän (Esimerkkikaupungin "
        "työllisyyspalvelut) henkilökunta voi ottaa sinuun yhteyttä, mutta vain jos itse pyydät. "
        "Lisää kerron komennolla /privacy, ja /forget poistaa kaiken.",
        "Kuka olet?",
    ]
