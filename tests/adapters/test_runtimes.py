"""Both Telegram runtimes (aiogram and python-telegram-bot) against the fake Bot API server:
what a Telegram user sees, and that nothing is lost or stored twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.adapters.serve import make_transport
from bot.adapters.telegram import TelegramDoor
from bot.app import App
from bot.config import Settings
from bot.throttle import MemoryThrottle, SendRate
from dialogs.store.models import Answer, ProcessedUpdate
from knowledge.loader import Knowledge
from tests.fake_telegram import FakeTelegram, FakeUser

STAFF_CHAT = -100500
ADMIN = 7


@dataclass
class Running:
    fake: FakeTelegram
    app: App
    door: TelegramDoor
    task: asyncio.Task[None] | None


def settings_for(fake: FakeTelegram, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=fake.token,
        telegram_api_url=fake.base_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        admin_ids=str(ADMIN),
        staff_chat_id=STAFF_CHAT,
        **extra,
    )


async def start(
    fake: FakeTelegram,
    app: App,
    runtime: str,
    poll: bool = True,
    burst: int = 50,
    throttle: MemoryThrottle | None = None,
) -> Running:
    door = TelegramDoor(
        app,
        make_transport(app, runtime),
        throttle or MemoryThrottle(rate=20, burst=burst),
        SendRate(10_000),
    )
    await door.prepare()
    task = asyncio.create_task(door.poll()) if poll else None
    return Running(fake, app, door, task)


async def stop(running: Running) -> None:
    running.door.stopping.set()
    if running.task is not None:
        await asyncio.wait_for(running.task, 15)
    await running.door.transport.close()


@pytest.fixture(params=["aiogram", "ptb"])
async def bot(
    request: pytest.FixtureRequest, fake_telegram: FakeTelegram, tmp_path: Path, make_app
) -> AsyncIterator[Running]:
    fake_telegram.group(STAFF_CHAT, "KIERTO staff")
    app = await make_app(settings_for(fake_telegram, tmp_path))
    running = await start(fake_telegram, app, request.param)
    yield running
    await stop(running)
    await app.close()


async def count(app: App, model: type) -> int:
    async with app.db.unit() as repo:
        return (await repo.session.execute(select(func.count()).select_from(model))).scalar_one()


def newest_with(user: FakeUser, prefix: str) -> list[str]:
    for message in reversed(user.bot_messages):
        data = [d for d in message.callback_data if d.startswith(prefix)]
        if data:
            return data
    return []


async def settled(running: Running) -> None:
    """Wait on the door's own signal: every update the fake has queued so far was taken in,
    handled and its replies sent. The timeout is only a safety net."""
    async with asyncio.timeout(10):
        await running.door.settled(through=running.fake.last_update_id)


async def press_and_wait(bot: Running, user: FakeUser, data: str) -> None:
    """Press a button and wait until the bot has finished the press."""
    before = (
        len(user.bot_messages),
        [(m.content, tuple(m.button_texts)) for m in user.bot_messages[-2:]],
    )
    query = user.press(data)
    await settled(bot)
    answer = bot.fake.callback_answers[query["id"]]  # every press is answered
    after = (
        len(user.bot_messages),
        [(m.content, tuple(m.button_texts)) for m in user.bot_messages[-2:]],
    )
    assert after != before or answer.text, f"pressing {data} changed nothing"


async def send_and_wait(bot: Running, user: FakeUser, text: str) -> None:
    """Send, then wait until the bot has finished the update (its replies are out)."""
    user.send(text)
    await settled(bot)


# ---------------------------------------------------------------------- conversations


async def test_start_greets_in_finnish_with_buttons_and_menus(bot: Running) -> None:
    aino = bot.fake.user(42, language_code="fi", first_name="Aino")
    await send_and_wait(bot, aino, "/start")
    greeting, question = aino.bot_messages[-2:]
    assert "Olen botti, en ihminen" in greeting.content
    assert "<b>kierto-bot</b>" in (greeting.html or "")
    assert question.callback_data == ["m:company", "m:jobseeker", "m:visitor"]
    menu = {c["command"]: c["description"] for c in bot.fake.visible_commands(42)}
    assert {"start", "kartoitus", "tyopaja", "privacy", "forget"} <= set(menu)
    assert "tickets" not in menu
    assert menu["start"] == "aloita alusta ja valitse, mitä haluat tehdä"
    swede = bot.fake.user(43, language_code="sv")
    assert {c["command"] for c in bot.fake.visible_commands(43)} == set(menu)
    staff_menu = {c["command"] for c in bot.fake.visible_commands(ADMIN)}
    assert {"tickets", "reply", "leads", "stats"} <= staff_menu
    assert {c["command"] for c in bot.fake.commands({"type": "chat", "chat_id": STAFF_CHAT})} >= {
        "tickets",
        "reply",
    }
    assert swede.bot_messages == []


async def test_whole_kartoitus_ends_with_the_chart_photo(bot: Running, kb: Knowledge) -> None:
    user = bot.fake.user(44, language_code="en")
    await send_and_wait(bot, user, "/kartoitus")
    await send_and_wait(bot, user, "Telegram Test Oy")
    await press_and_wait(bot, user, "k:yt:skip")
    for _ in range(120):
        data = newest_with(user, "k:")
        if "k:sum:done" in data:
            break
        qid = data[0].split(":")[1]
        question = kb.questions[qid]
        if question.type == "text":
            await send_and_wait(bot, user, "Thanks!")
        elif question.type == "multi":
            await press_and_wait(bot, user, f"k:{qid}:t.{kb.options[qid][0].id}")
            await press_and_wait(bot, user, f"k:{qid}:done")
        else:
            await press_and_wait(bot, user, data[0])
    await press_and_wait(bot, user, "k:sum:done")
    results = user.bot_messages[-1]  # one screen: level and steps; the chart behind a button
    assert "KIERTO-kartoitus results" in results.content
    assert results.callback_data[0].endswith(":details")
    assert not [m for m in user.bot_messages if m.kind == "photo"]
    await press_and_wait(bot, user, results.callback_data[0])
    photos = [m for m in user.bot_messages if m.kind == "photo"]
    assert len(photos) == 1 and photos[0].photo.startswith(b"\x89PNG")
    assert bot.fake.unanswered_callbacks() == []
    assert not [n for n in bot.fake.notes if n.kind == "row_too_wide"]


async def test_job_seeker_finder(bot: Running) -> None:
    user = bot.fake.user(45, language_code="sv")
    await send_and_wait(bot, user, "/start")
    await press_and_wait(bot, user, "m:jobseeker")
    await press_and_wait(bot, user, "p:int:t.textiles")
    assert user.bot_messages[-1].edited  # the checklist is edited in place
    assert user.bot_messages[-1].button_texts[0].startswith("☑️")
    await press_and_wait(bot, user, "p:int:done")
    await press_and_wait(bot, user, "p:lang:sv")
    await press_and_wait(bot, user, "p:time:part")
    await press_and_wait(bot, user, "p:learn:done")
    assert "pl:nextiili_textiles:card" in user.bot_messages[-1].callback_data
    await press_and_wait(bot, user, "pl:nextiili_textiles:card")
    await press_and_wait(bot, user, "pl:nextiili_textiles:int")
    await press_and_wait(bot, user, "pl:nextiili_textiles:ok")
    staff = bot.fake.chat(STAFF_CHAT).bot_messages
    assert staff and "Ärende" not in staff[-1].content and "#" in staff[-1].content
    async with bot.app.db.unit() as repo:
        assert len(await repo.interests.of_user(45)) == 1
    assert bot.fake.unanswered_callbacks() == []


async def test_non_text_messages_get_a_hint_and_groups_are_ignored(bot: Running) -> None:
    user = bot.fake.user(46, language_code="en")
    await send_and_wait(bot, user, "/start")
    user.send_sticker()
    await settled(bot)
    assert "only read text" in user.bot_messages[-1].content
    bot.fake.group(-200, "Some group")
    bot.fake.group_message(-200, 46, "/start")
    await settled(bot)
    assert bot.fake.chat(-200).bot_messages == []
    bot.fake.user(ADMIN, language_code="fi")
    bot.fake.group_message(STAFF_CHAT, ADMIN, "/tickets")
    await settled(bot)
    assert bot.fake.chat(STAFF_CHAT).bot_messages[-1].content == "Ei avoimia tikettejä. 🎉"


async def test_staff_reply_reaches_the_user_through_the_bot(bot: Running) -> None:
    user = bot.fake.user(47, language_code="en")
    await send_and_wait(bot, user, "/human")
    await send_and_wait(bot, user, "Can I visit the workshop before applying?")
    ticket = bot.fake.chat(STAFF_CHAT).bot_messages[-1]
    staff = bot.fake.user(ADMIN, language_code="fi")
    bot.fake.group_message(
        STAFF_CHAT, ADMIN, "Yes, just ask us for a time.", reply_to_message_id=ticket.message_id
    )
    await settled(bot)
    assert "Yes, just ask us for a time." in user.bot_messages[-1].content
    assert staff.bot_messages == []


# ---------------------------------------------------------------------- failures


async def test_duplicated_update_is_handled_once(bot: Running) -> None:
    user = bot.fake.user(48, language_code="en")
    bot.fake.duplicate_next()
    await send_and_wait(bot, user, "/start")
    assert len(user.bot_messages) == 2  # the greeting and "who are you?", once
    assert await count(bot.app, ProcessedUpdate) == 1
    await press_and_wait(bot, user, "m:company")
    await send_and_wait(bot, user, "Kahdesti Oy")
    await press_and_wait(bot, user, "k:yt:skip")
    first = newest_with(user, "k:")[0]
    bot.fake.duplicate_next()
    await press_and_wait(bot, user, first)
    assert await count(bot.app, Answer) == 1
    questions = [m for m in user.bot_messages if "question 2 of" in m.content]
    assert len(questions) == 1


async def test_429_waits_retry_after_and_delivers_once(bot: Running) -> None:
    user = bot.fake.user(49, language_code="en")
    await send_and_wait(bot, user, "/start")
    assert "Who are you?" in user.bot_messages[-1].content
    bot.fake.fail("sendMessage", status=429, retry_after=1, times=1, chat_id=49)
    started = time.monotonic()
    await send_and_wait(bot, user, "/help")  # settled only once the retried reply is out
    assert "Here is what I can do" in user.bot_messages[-1].content
    assert time.monotonic() - started >= 1.0
    sends = [
        c
        for c in bot.fake.calls_to("sendMessage", chat_id=49)
        if "Here is what I can do" in str(c.params.get("text"))
    ]
    assert [c.status for c in sends] == [429, 200]
    assert [m.content for m in user.bot_messages].count(user.bot_messages[-1].content) == 1


async def test_a_slow_reply_does_not_hold_up_other_users(bot: Running) -> None:
    """Polling goes on while one user's reply is still on its way (here it is retried
    with backoff after 5xx answers for that chat: 0.5 + 1 + 2 s); that user's next update
    is answered only after it, in order.  (Not a 429: Telegram's flood wait pauses every
    chat's sending, see test_throttle.)"""
    slow, other = bot.fake.user(71, language_code="en"), bot.fake.user(72, language_code="en")
    await send_and_wait(bot, slow, "/start")
    await send_and_wait(bot, other, "/start")
    greeted = len(slow.bot_messages)
    bot.fake.fail("sendMessage", status=502, times=3, chat_id=71)
    slow.send("/help")
    await bot.fake.wait_until(
        lambda: [c.status for c in bot.fake.calls_to("sendMessage", chat_id=71)][-1:] == [502]
    )
    slow.send("/privacy")
    other.send("/help")
    await other.wait_for(lambda msgs: "Here is what I can do" in msgs[-1].content, timeout=10)
    assert len(slow.bot_messages) == greeted  # answered while the slow reply still waits
    await slow.wait_for(lambda msgs: any("Privacy" in m.content for m in msgs), timeout=10)
    replies = [m.content for m in slow.bot_messages[greeted:]]
    assert len(replies) == 2  # /help first, then /privacy, as they were sent
    assert "Here is what I can do" in replies[0] and "Privacy" in replies[1]


async def test_403_marks_the_user_blocked_and_stops_sending(bot: Running) -> None:
    user = bot.fake.user(50, language_code="en")
    await send_and_wait(bot, user, "/human please call me")
    await press_and_wait(bot, user, "h:cf:yes")
    bot.fake.block(50)
    await send_and_wait(bot, user, "/help")
    async with bot.app.db.unit() as repo:
        assert (await repo.users.get(50)).blocked
        ticket = (await repo.tickets.open())[0]
    attempts = len(bot.fake.calls_to("sendMessage", chat_id=50))
    bot.fake.user(ADMIN, language_code="fi")
    bot.fake.group_message(STAFF_CHAT, ADMIN, f"/reply {ticket.id} We tried to reach you")
    await settled(bot)
    assert len(bot.fake.calls_to("sendMessage", chat_id=50)) == attempts  # nothing more sent
    bot.fake.unblock(50)
    await send_and_wait(bot, user, "/help")  # writing again unblocks
    assert "Here is what I can do" in user.bot_messages[-1].content


async def test_5xx_is_retried_and_polling_survives_an_outage(bot: Running) -> None:
    user = bot.fake.user(51, language_code="en")
    await send_and_wait(bot, user, "/start")
    greeted = len(bot.fake.calls_to("sendMessage", chat_id=51))
    bot.fake.fail("sendMessage", status=502, times=2, chat_id=51)
    await send_and_wait(bot, user, "/privacy")
    assert "Privacy" in user.bot_messages[-1].content
    statuses = [c.status for c in bot.fake.calls_to("sendMessage", chat_id=51)[greeted:]]
    assert statuses == [502, 502, 200]
    bot.fake.outage(2.0, body="html")
    await asyncio.sleep(0.2)
    user.send("/help")
    await user.wait_for(lambda msgs: "Here is what I can do" in msgs[-1].content, timeout=20)
    assert sum(1 for m in user.bot_messages if "Here is what I can do" in m.content) == 1


async def test_flood_control_slows_one_user_with_one_notice(
    fake_telegram: FakeTelegram, tmp_path: Path, make_app
) -> None:
    app = await make_app(settings_for(fake_telegram, tmp_path))
    # the clock stands still, so no token comes back while the flood is handled (how the
    # bucket refills over time is tested in tests/test_throttle.py)
    throttle = MemoryThrottle(rate=20, burst=5, clock=lambda: 1000.0)
    running = await start(fake_telegram, app, "aiogram", throttle=throttle)
    try:
        flooder = fake_telegram.user(52, language_code="en")
        calm = fake_telegram.user(53, language_code="en")
        for i in range(25):
            flooder.send(f"message {i}")
        calm.send("/help")
        await settled(running)
        notices = [m for m in flooder.bot_messages if m.content.startswith("🐢")]
        assert len(notices) == 1
        answers = [m for m in flooder.bot_messages if "don't know" in m.content]
        assert len(answers) == 5  # the burst is answered, the rest dropped after the notice
        assert "Here is what I can do" in calm.bot_messages[-1].content
    finally:
        await stop(running)
        await app.close()


async def test_sigterm_finishes_the_updates_in_hand(
    fake_telegram: FakeTelegram, tmp_path: Path, make_app
) -> None:
    app = await make_app(settings_for(fake_telegram, tmp_path))
    running = await start(fake_telegram, app, "ptb")
    users = [fake_telegram.user(60 + i, language_code="en") for i in range(8)]
    for user in users:
        user.send("/privacy")
    # stop as soon as the bot has fetched the batch, while it is being handled
    await fake_telegram.wait_until(
        lambda: any(
            c.method.lower() == "getupdates" and c.response and c.response.get("result")
            for c in fake_telegram.calls
        )
    )
    running.door.stopping.set()
    await asyncio.wait_for(running.task, 15)
    assert all(user.bot_messages for user in users)
    last = fake_telegram.calls_to("getUpdates")[-1]
    assert int(last.params["offset"]) > max(u["update_id"] for u in fake_telegram.updates)
    await running.door.transport.close()
    await app.close()


async def test_long_messages_are_split_and_keyboards_stay_on_the_last_part(bot: Running) -> None:
    from dialogs.actions import Btn, Send

    user = bot.fake.user(54, language_code="en")
    text = "\n\n".join(f"<b>Part {i}</b> " + "word " * 300 for i in range(8))
    await bot.door.render(54, [Send(54, text, ((Btn("OK", "m:menu"),),))], None)
    parts = user.bot_messages
    assert len(parts) >= 3 and all(len(m.content) <= 4096 for m in parts)
    assert parts[-1].callback_data == ["m:menu"] and all(not m.buttons for m in parts[:-1])


# ---------------------------------------------------------------------- webhook


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_webhook_with_right_and_wrong_secret(
    runtime: str, fake_telegram: FakeTelegram, tmp_path: Path, make_app, unused_tcp_port: int
) -> None:
    app = await make_app(settings_for(fake_telegram, tmp_path))
    running = await start(fake_telegram, app, runtime, poll=False)
    runner = web.AppRunner(running.door.web_app("/tg/hook", "s3cret-Token_1"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    url = f"http://127.0.0.1:{unused_tcp_port}/tg/hook"
    try:
        await running.door.transport.set_webhook(url, "s3cret-Token_1")
        user = fake_telegram.user(55, language_code="en")
        await send_and_wait(running, user, "/start")
        assert "I am a bot" in user.bot_messages[0].content
        # the fake records a delivery when the bot's answer to the POST arrives
        delivered = await fake_telegram.wait_until(lambda: fake_telegram.webhook_deliveries)
        assert delivered[-1].status == 200
        forged = {
            "update_id": 999_999,
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": 55, "type": "private"},
                "from": {"id": 55, "is_bot": False, "first_name": "X"},
                "text": "/help",
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=forged, headers=headers) as response:
                    assert response.status == 401
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["database"] == "ok"
        await settled(running)
        assert not any("Here is what I can do" in m.content for m in user.bot_messages)
        async with app.db.unit() as repo:
            assert await repo.session.get(ProcessedUpdate, 999_999) is None
    finally:
        await runner.cleanup()
        await stop(running)
        await app.close()


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_updates_waiting_at_start_are_not_dropped(
    runtime: str, fake_telegram: FakeTelegram, tmp_path: Path, make_app
) -> None:
    users = [fake_telegram.user(70 + i, language_code="fi") for i in range(3)]
    for user in users:
        user.send("/start")  # sent while the bot is down
    app = await make_app(settings_for(fake_telegram, tmp_path))
    running = await start(fake_telegram, app, runtime)
    try:
        await settled(running)
        assert all(len(user.bot_messages) == 2 for user in users)
    finally:
        await stop(running)
        await app.close()


async def test_a_failing_staff_chat_does_not_cost_the_users_reply(bot: Running) -> None:
    user = bot.fake.user(56, language_code="en")
    await send_and_wait(bot, user, "/start")
    bot.fake.fail(
        "sendMessage",
        status=400,
        times=10,
        chat_id=STAFF_CHAT,
        description="Bad Request: chat not found",
    )
    await send_and_wait(bot, user, "/human Is there a workshop in Hervanta?")
    await press_and_wait(bot, user, "h:cf:yes")
    assert "Your question is now with the staff of" in user.bot_messages[-1].content
    async with bot.app.db.unit() as repo:
        assert len(await repo.tickets.open()) == 1  # and /tickets still shows it to staff
