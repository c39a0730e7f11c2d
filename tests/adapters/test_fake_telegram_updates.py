"""The fake Bot API server hands out updates like Telegram: long polling and offsets,
button presses, groups and privacy mode, the webhook."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram import types as at
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.adapters.fake_clients import aiogram_bot, keyboard, ptb_bot, webhook_receiver
from tests.fake_telegram import (
    ButtonNotFound,
    FakeTelegram,
)

# --------------------------------------------------------------------------- updates


async def test_user_updates_validate_in_both_libraries(fake: FakeTelegram) -> None:
    aino = fake.user(42, language_code="fi", first_name="Aino", username="aino")
    aino.send("/start hello")
    aino.send_sticker("🎉")
    aino.send_photo(caption="kuva")
    aino.send_voice(duration=3)
    aino.send_document(b"hello", "notes.txt")
    async with aiogram_bot(fake) as bot:
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [1, 2, 3, 4, 5]
        start = updates[0].message
        assert start is not None and start.text == "/start hello"
        assert start.from_user is not None and start.from_user.language_code == "fi"
        assert [(e.type, e.offset, e.length) for e in start.entities or []] == [
            ("bot_command", 0, 6)
        ]
        assert updates[1].message and updates[1].message.sticker
        assert updates[1].message.sticker.emoji == "🎉"
        photo_msg = updates[2].message
        assert photo_msg and photo_msg.photo and photo_msg.caption == "kuva"
        assert updates[3].message and updates[3].message.voice
        assert updates[3].message.voice.duration == 3
        doc_msg = updates[4].message
        assert doc_msg and doc_msg.document and doc_msg.document.file_name == "notes.txt"
        got = await bot.download(doc_msg.document.file_id)
        assert got is not None and got.read() == b"hello"
    async with ptb_bot(fake) as bot:
        ptb_updates = await bot.get_updates()
        assert ptb_updates[0].message is not None
        assert ptb_updates[0].message.text == "/start hello"
        assert ptb_updates[2].message is not None and ptb_updates[2].message.photo
        assert ptb_updates[3].message is not None and ptb_updates[3].message.voice
    assert [m.kind for m in aino.messages] == ["text", "sticker", "photo", "voice", "document"]


async def test_long_polling_returns_as_soon_as_a_user_sends(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        started = time.monotonic()
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.2)
        assert not poll.done()
        aino.send("moi")
        updates = await asyncio.wait_for(poll, 3)
        assert time.monotonic() - started < 2
        assert updates[0].message is not None and updates[0].message.text == "moi"

        # an empty long poll waits its timeout and answers []
        started = time.monotonic()
        assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1) == []
        assert 0.9 < time.monotonic() - started < 2
    async with ptb_bot(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(offset=2, timeout=10))
        await asyncio.sleep(0.2)
        aino.send("toinen")
        ptb_updates = await asyncio.wait_for(poll, 3)
        assert ptb_updates[0].message is not None and ptb_updates[0].message.text == "toinen"


async def test_offsets_confirm_updates_and_limit_slices(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    for i in range(5):
        aino.send(f"m{i}")
    async with aiogram_bot(fake) as bot:
        first = await bot.get_updates(limit=2)
        assert [u.update_id for u in first] == [1, 2]
        # without a new offset the same updates come again
        assert [u.update_id for u in await bot.get_updates(limit=2)] == [1, 2]
        rest = await bot.get_updates(offset=3)
        assert [u.update_id for u in rest] == [3, 4, 5]
        # offset confirms: 1 and 2 are gone for good
        assert [u.update_id for u in await bot.get_updates()] == [3, 4, 5]
        assert await bot.get_updates(offset=6) == []
        aino.send("m5")
        assert [u.update_id for u in await bot.get_updates()] == [6]
        aino.send("m6")
        # a negative offset keeps only the last N
        assert [u.update_id for u in await bot.get_updates(offset=-1)] == [7]
    assert fake.pending_update_count == 1


async def test_a_second_poller_terminates_the_first_with_409(fake: FakeTelegram) -> None:
    async with aiogram_bot(fake) as first, ptb_bot(fake) as second:
        older = asyncio.create_task(first.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        newer = asyncio.create_task(second.get_updates(timeout=1))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await older
        assert await newer == ()


async def test_allowed_updates_filter_what_is_created(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        await bot.send_message(42, "q", reply_markup=keyboard([("A", "a")]))
        await bot.get_updates(allowed_updates=["callback_query"])
        aino.send("ignored")
        aino.press("a")
        updates = await bot.get_updates()
    assert [u.callback_query is not None for u in updates] == [True]
    assert len(fake.dropped_updates) == 1


# --------------------------------------------------------------------------- callbacks


async def test_press_answer_and_missing_buttons(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        old = await bot.send_message(42, "vanha", reply_markup=keyboard([("A", "a")]))
        new = await bot.send_message(42, "uusi", reply_markup=keyboard([("A", "a"), ("B", "b")]))
        cq = aino.press("a")
        assert cq["message"]["message_id"] == new.message_id  # the newest with that button
        cq_old = aino.press("a", message_id=old.message_id)
        with pytest.raises(ButtonNotFound, match="'zzz'"):
            aino.press("zzz")
        with pytest.raises(ButtonNotFound):
            aino.press("b", message_id=old.message_id)

        updates = await bot.get_updates()
        query = updates[0].callback_query
        assert query is not None and query.data == "a"
        assert query.message is not None and query.message.message_id == new.message_id
        assert query.from_user.id == 42
        assert fake.unanswered_callbacks() == [cq["id"], cq_old["id"]]

        assert await bot.answer_callback_query(query.id, text="Tallennettu", show_alert=True)
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_callback_query(query.id)
    async with ptb_bot(fake) as bot:
        assert await bot.answer_callback_query(cq_old["id"])

    answer = fake.callback_answers[cq["id"]]
    assert answer.text == "Tallennettu" and answer.show_alert is True
    assert 0 <= answer.latency < 5
    assert fake.unanswered_callbacks() == []
    assert [t.text for t in aino.chat.toasts] == ["Tallennettu", None]

    # a deleted message's buttons are no longer visible
    async with aiogram_bot(fake) as bot:
        await bot.delete_message(42, new.message_id)
    assert aino.press("a")["message"]["message_id"] == old.message_id
    aino.tap("A")


async def test_group_messages_replies_and_privacy_mode(fake: FakeTelegram) -> None:
    group = -1001234567890
    async with aiogram_bot(fake) as bot:
        fake.group_message(group, 7, "/start@kierto_test_bot", title="Kierto-ryhmä")
        fake.group_message(group, 7, "just chatting")  # privacy mode: not for the bot
        updates = await bot.get_updates()
        assert len(updates) == 1
        msg = updates[0].message
        assert msg is not None and msg.chat.type == "supergroup" and msg.chat.id == group
        assert msg.chat.title == "Kierto-ryhmä"
        assert msg.entities and msg.entities[0].type == "bot_command"
        assert [n.kind for n in fake.notes] == ["privacy_mode"]

        answer = await bot.send_message(group, "Hei ryhmä")
        fake.user(8).send("kiitos", chat_id=group, reply_to_message_id=answer.message_id)
        updates = await bot.get_updates(offset=updates[-1].update_id + 1)
        reply = updates[0].message
        assert reply is not None and reply.reply_to_message is not None
        assert reply.reply_to_message.text == "Hei ryhmä"
        assert reply.reply_to_message.from_user is not None
        assert reply.reply_to_message.from_user.is_bot

        # the bot replies to a user's message (reply_parameters)
        sent = await bot.send_message(
            group, "vastaus", reply_parameters=at.ReplyParameters(message_id=reply.message_id)
        )
        assert sent.reply_to_message is not None
        assert sent.reply_to_message.text == "kiitos"
    assert [m.content for m in fake.chat(group).visible] == [
        "/start@kierto_test_bot",
        "just chatting",
        "Hei ryhmä",
        "kiitos",
        "vastaus",
    ]
    with pytest.raises(ValueError, match="no message 999"):
        fake.user(8).send("x", chat_id=group, reply_to_message_id=999)


async def test_group_messages_without_privacy_mode() -> None:
    async with FakeTelegram(privacy_mode=False) as fake, aiogram_bot(fake) as bot:
        fake.group_message(-100, 7, "anything")
        assert len(await bot.get_updates()) == 1
        assert (await bot.get_me()).can_read_all_group_messages is True


# --------------------------------------------------------------------------- webhook


async def test_webhook_delivery_with_secret(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    async with webhook_receiver() as (url, received, _), aiogram_bot(fake) as bot:
        assert await bot.set_webhook(url, secret_token="s3cr3t_-X", drop_pending_updates=True)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        aino.send("/start")
        aino.send("toinen")
        await fake.wait_until(lambda: len(received) == 2)
        headers, update = received[0]
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_-X"
        assert headers["Content-Type"].startswith("application/json")
        assert update["message"]["text"] == "/start"
        assert [u["update_id"] for _, u in received] == [1, 2]
        at.Update.model_validate(update)
    assert [d.status for d in fake.webhook_deliveries] == [200, 200]
    assert all(d.secret_sent == "s3cr3t_-X" for d in fake.webhook_deliveries)


async def test_webhook_without_secret_retries_failures_and_hands_back_on_delete(
    fake: FakeTelegram,
) -> None:
    fake.webhook_retry_delay = 0.05
    aino = fake.user(42)
    async with webhook_receiver(status=500) as (url, received, state), ptb_bot(fake) as bot:
        aino.send("early")  # queued before the webhook: delivered once it is set
        assert await bot.set_webhook(url)
        await fake.wait_until(lambda: len(received) >= 2)
        assert "X-Telegram-Bot-Api-Secret-Token" not in received[0][0]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert info.last_error_message is not None
        assert "Wrong response from the webhook: 500" in info.last_error_message

        state["status"] = 200
        await fake.wait_until(lambda: fake.webhook_deliveries[-1].status == 200)
        await fake.idle(quiet=0.1)
        assert fake.pending_update_count == 0
        assert {u["message"]["text"] for _, u in received} == {"early"}
        statuses = [d.status for d in fake.webhook_deliveries]
        assert statuses[0] == 500 and statuses[-1] == 200

        # the bot's endpoint goes away: updates wait, and deleteWebhook hands them to getUpdates
        state["status"] = 503
        aino.send("while failing")
        await fake.wait_until(lambda: fake.webhook_deliveries[-1].status == 503)
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        updates = await bot.get_updates()
        assert [u.message.text for u in updates if u.message] == ["while failing"]


async def test_webhook_reply_with_a_method_is_executed(fake: FakeTelegram) -> None:
    """aiogram's webhook handler can answer an update with a method call (multipart);
    Telegram executes it, so the fake does too."""
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        dp = Dispatcher()

        @dp.message()
        async def echo(message: at.Message) -> Any:
            return message.answer(f"kaiku: {message.text}")

        app = web.Application()
        SimpleRequestHandler(dp, bot, secret_token="abc", handle_in_background=False).register(
            app, path="/hook"
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
            await bot.set_webhook(url, secret_token="abc")
            aino.send("hei")
            reply = await aino.next_bot_message()
            assert reply.text == "kaiku: hei"
            assert fake.calls_to("sendMessage")[0].source == "webhook_reply"

            # a wrong secret makes aiogram answer 401, and the fake records it
            await bot.set_webhook(url, secret_token="wrong")
            aino.send("toinen")
            await fake.wait_until(lambda: fake.webhook_deliveries[-1].status == 401)
            await bot.delete_webhook(drop_pending_updates=True)
        finally:
            await runner.cleanup()
