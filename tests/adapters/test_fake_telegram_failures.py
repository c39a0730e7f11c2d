"""The fake Bot API server fails like Telegram (429, 403, 5xx, outages, duplicates), keeps
command menus by scope, and drives both libraries' own polling end to end."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import aiohttp
import pytest
import telegram
import telegram.error
from aiogram import Bot, Dispatcher, F
from aiogram import types as at
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

from tests.adapters.fake_clients import TOKEN, aiogram_bot, api, keyboard, ptb_bot, webhook_receiver
from tests.fake_telegram import (
    FakeTelegram,
    WaitTimeout,
)

# --------------------------------------------------------------------------- failures


async def test_429_with_retry_after(
    fake: FakeTelegram, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.user(42)
    rule = fake.fail("sendMessage", status=429, retry_after=3, times=2)
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="x")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    async with aiogram_bot(fake) as bot:
        with pytest.raises(TelegramRetryAfter) as info:
            await bot.send_message(42, "x")
        assert info.value.retry_after == 3
        await bot.send_message(42, "now it works")
    assert rule.remaining == 0 and rule.hits == 2

    fake.fail("sendmessage", status=429, retry_after=1, chat_id=43)
    fake.user(43)
    async with ptb_bot(fake) as bot:
        await bot.send_message(42, "other chats are not limited")
        # PTB 22 builds RetryAfter through a deprecated int accessor that warns (an error
        # here) unless PTB_TIMEDELTA=1 opts in to timedelta values
        monkeypatch.setenv("PTB_TIMEDELTA", "1")
        with pytest.raises(telegram.error.RetryAfter) as ptb_info:
            await bot.send_message(43, "x")
        assert ptb_info.value.retry_after == datetime.timedelta(seconds=1)
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 429, 200, 200, 429]
    assert fake.user(42).texts == ["now it works", "other chats are not limited"]


async def test_403_block_keeps_failing_until_unblocked(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    fake.user(43)
    fake.block(42, notify=True)
    async with aiogram_bot(fake) as bot:
        for _ in range(2):
            with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
                await bot.send_message(42, "x")
        with pytest.raises(TelegramForbiddenError):
            await bot.send_chat_action(42, "typing")
        await bot.send_message(43, "others still fine")
        updates = await bot.get_updates()
        member = updates[0].my_chat_member
        assert member is not None and member.new_chat_member.status == "kicked"
    async with ptb_bot(fake) as bot:
        with pytest.raises(telegram.error.Forbidden, match="bot was blocked by the user"):
            await bot.send_message(42, "x")
        fake.unblock(42)
        await bot.send_message(42, "welcome back")
        # a one-off 403 from fail()
        fake.fail("sendMessage", status=403)
        with pytest.raises(telegram.error.Forbidden):
            await bot.send_message(42, "x")
        await bot.send_message(42, "fine again")
    assert aino.texts == ["welcome back", "fine again"]


async def test_server_errors_with_json_or_plain_bodies(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake.user(42)
    fake.fail("sendMessage", status=500)
    async with aiogram_bot(fake) as bot:
        with pytest.raises(TelegramServerError, match="Internal Server Error"):
            await bot.send_message(42, "x")
    fake.fail("*", status=502, body="html")
    async with http.post(f"{fake.api_url}/getMe") as resp:
        assert resp.status == 502
        assert resp.content_type == "text/html"
        assert "502 Bad Gateway" in await resp.text()
    fake.fail("sendMessage", status=503, body="plain")
    async with ptb_bot(fake) as bot:
        with pytest.raises(telegram.error.NetworkError, match="Service Unavailable"):
            await bot.send_message(42, "x")
        await bot.send_message(42, "ok")
    assert [c.status for c in fake.calls_to("sendMessage")] == [500, 503, 200]


async def test_outage_answers_502_to_everything_for_a_while(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.1)
        fake.outage(0.6)
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await poll  # a pending long poll is cut off too
        with pytest.raises(TelegramServerError):
            await bot.get_updates()
        async with http.post(f"{fake.base_url}/bot123456:WRONG/getMe") as resp:
            assert resp.status == 502
        aino.send("during the outage")
        assert fake.outage_active
        await asyncio.sleep(0.7)
        assert not fake.outage_active
        updates = await bot.get_updates()
        assert updates[0].message is not None
        assert updates[0].message.text == "during the outage"
    fake.outage(0.3, body="html")
    with pytest.raises(telegram.error.NetworkError, match="Bad Gateway"):
        async with ptb_bot(fake):  # initialize() calls getMe
            pass
    statuses = [c.status for c in fake.calls]
    assert statuses.count(502) >= 4


async def test_duplicate_delivery_same_update_id(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    fake.duplicate_next()
    aino.send("twice")
    aino.send("once")
    async with aiogram_bot(fake) as bot:
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [1, 1, 2]
        assert await bot.get_updates(offset=2) == [updates[-1]]

    async with webhook_receiver() as (url, received, _), aiogram_bot(fake) as bot:
        await bot.set_webhook(url, drop_pending_updates=True)
        fake.duplicate_next()
        aino.send("hook twice")
        await fake.wait_until(lambda: len(received) == 2)
        assert received[0][1] == received[1][1]
        await bot.delete_webhook()


# --------------------------------------------------------------------------- commands


async def test_commands_by_scope_and_language(fake: FakeTelegram) -> None:
    aino = fake.user(42, language_code="fi")
    bob = fake.user(43, language_code="en")
    erik = fake.user(44, language_code="sv")
    async with aiogram_bot(fake) as bot:
        await bot.set_my_commands([at.BotCommand(command="start", description="Start")])
        await bot.set_my_commands(
            [at.BotCommand(command="start", description="Aloita")], language_code="fi"
        )
        await bot.set_my_commands(
            [
                at.BotCommand(command="start", description="Aloita"),
                at.BotCommand(command="kartoitus", description="Kartoitus"),
            ],
            scope=at.BotCommandScopeAllPrivateChats(),
            language_code="fi",
        )
        await bot.set_my_commands(
            [at.BotCommand(command="admin", description="Admin")],
            scope=at.BotCommandScopeChat(chat_id=43),
        )
        got = await bot.get_my_commands(
            scope=at.BotCommandScopeAllPrivateChats(), language_code="fi"
        )
        assert [c.command for c in got] == ["start", "kartoitus"]
        assert await bot.get_my_commands(scope=at.BotCommandScopeAllGroupChats()) == []
        with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
            await bot.set_my_commands([at.BotCommand(command="Bad-Name", description="x")])
    async with ptb_bot(fake) as bot:
        ptb_got = await bot.get_my_commands(language_code="fi")
        assert [(c.command, c.description) for c in ptb_got] == [("start", "Aloita")]
        await bot.set_my_commands([("ohje", "Ohje")], scope=telegram.BotCommandScopeAllGroupChats())

    assert [c["command"] for c in aino.commands] == ["start", "kartoitus"]
    assert [c["command"] for c in bob.commands] == ["admin"]
    assert [c["description"] for c in erik.commands] == ["Start"]
    assert [c["command"] for c in fake.visible_commands(44, -100)] == ["ohje"]
    assert fake.commands("all_group_chats") == [{"command": "ohje", "description": "Ohje"}]

    async with aiogram_bot(fake) as bot:
        await bot.delete_my_commands(scope=at.BotCommandScopeChat(chat_id=43))
    assert [c["description"] for c in bob.commands] == ["Start"]


# --------------------------------------------------------------------------- helpers


async def test_waiting_helpers_and_idle(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    aino.send("/start")
    with pytest.raises(WaitTimeout, match=r"user #1: /start"):
        await aino.wait_for(lambda msgs: msgs, timeout=0.2)

    async def slow_bot() -> None:
        async with aiogram_bot(fake) as bot:
            updates = await bot.get_updates()
            await asyncio.sleep(0.1)
            await bot.send_message(42, "eka")
            await asyncio.sleep(0.1)
            await bot.send_message(42, "toka")
            await bot.get_updates(offset=updates[-1].update_id + 1)

    task = asyncio.create_task(slow_bot())
    first = await aino.next_bot_message()
    second = await aino.next_bot_message()
    assert (first.text, second.text) == ("eka", "toka")
    texts = await aino.wait_for(lambda msgs: [m.text for m in msgs] if len(msgs) == 2 else None)
    assert texts == ["eka", "toka"]
    await fake.wait_until(lambda: len(fake.calls_to("sendMessage")) == 2)
    await task
    await fake.idle(quiet=0.2)
    assert time.monotonic() - fake.calls_to("sendMessage")[-1].time >= 0.2
    assert "bot  #3: toka" in aino.transcript()

    aino.send("not fetched by anyone")
    with pytest.raises(WaitTimeout, match="not idle"):
        await fake.idle(quiet=0.05, timeout=0.3)
    await fake.idle(quiet=0.05, include_pending=False)


async def test_record_false_keeps_no_bodies_but_counts() -> None:
    async with FakeTelegram(record=False) as fake, aiogram_bot(fake) as bot:
        fake.user(42).send("x")
        await bot.send_message(42, "hello")
        await bot.edit_message_text("hello 2", chat_id=42, message_id=2)
        assert fake.calls_to("sendMessage")[0].params is None
        assert fake.calls_to("sendMessage", chat_id=42)
        assert fake.counts["sendMessage"] == 1
        assert fake.updates == []
        assert fake.user(42).texts == ["hello 2"]
        assert fake.user(42).bot_messages[0].history == []


# --------------------------------------------------------------------------- end to end


async def test_aiogram_dispatcher_polls_the_fake_end_to_end(fake: FakeTelegram) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: at.Message) -> None:
        await message.answer(
            "<b>Tervetuloa!</b>", parse_mode="HTML", reply_markup=keyboard([("Jatka", "next")])
        )

    @dp.callback_query(F.data == "next")
    async def on_next(query: at.CallbackQuery) -> None:
        await query.answer()
        assert isinstance(query.message, at.Message)
        await query.message.edit_text("Sivu 2")

    aino = fake.user(42, language_code="fi")
    async with aiogram_bot(fake) as bot:
        task = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
        )
        try:
            aino.send("/start")
            welcome = await aino.next_bot_message()
            assert welcome.text == "Tervetuloa!" and welcome.callback_data == ["next"]
            aino.press("next")
            await aino.wait_for(lambda msgs: msgs[-1].text == "Sivu 2")
            await fake.idle(quiet=0.2)
            assert fake.unanswered_callbacks() == []
            assert len(aino.bot_messages) == 1
        finally:
            await dp.stop_polling()
            await task


async def test_ptb_application_polls_the_fake_end_to_end(fake: FakeTelegram) -> None:
    async def start(update: telegram.Update, context: Any) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Hei!",
            reply_markup=telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Jatka", callback_data="next")]]
            ),
        )

    async def on_next(update: telegram.Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text("Sivu 2")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(f"{fake.base_url}/bot")
        .base_file_url(f"{fake.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_next))
    aino = fake.user(42)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            aino.send("/start")
            assert (await aino.next_bot_message()).text == "Hei!"
            aino.tap("Jatka")
            await aino.wait_for(lambda msgs: msgs[-1].text == "Sivu 2")
            await fake.wait_until(lambda: not fake.unanswered_callbacks())
            assert [t.text for t in aino.chat.toasts] == ["ok"]
        finally:
            await app.updater.stop()
            await app.stop()


async def test_close_and_log_out(fake: FakeTelegram) -> None:
    async with aiogram_bot(fake) as bot:
        assert await bot.close() is True
    async with ptb_bot(fake) as bot:
        assert await bot.log_out() is True
    assert fake.close_calls == 1 and fake.logged_out
    assert [c.method for c in fake.calls] == ["close", "getMe", "logOut"]


async def test_aiogram_network_error_when_the_fake_is_gone() -> None:
    fake = FakeTelegram()
    await fake.start()
    base = fake.base_url
    await fake.stop()
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        with pytest.raises(TelegramNetworkError):
            await bot.get_me()
    finally:
        await bot.session.close()
