"""The fake Telegram Bot API server behaves like Telegram for the clients the bot uses:
raw aiohttp requests, aiogram 3's ``Bot`` and python-telegram-bot 22's ``Bot`` (whose
response models must accept what it answers)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
from collections.abc import AsyncIterator
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
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

from tests.fake_telegram import (
    NOT_MODIFIED,
    ButtonNotFound,
    FakeTelegram,
    WaitTimeout,
    fake_telegram,
    parse_html,
    tiny_png,
)

TOKEN = "123456:TEST"

fake = pytest.fixture(fake_telegram, name="fake")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.asynccontextmanager
async def aiogram_bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(fake.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


@contextlib.asynccontextmanager
async def ptb_bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(
        fake.token,
        base_url=f"{fake.base_url}/bot",
        base_file_url=f"{fake.base_url}/file/bot",
    )
    async with bot:
        yield bot


async def api(
    http: aiohttp.ClientSession, fake: FakeTelegram, method: str, **params: Any
) -> tuple[int, Any]:
    """POST a JSON request the way a plain HTTP client would."""
    async with http.post(f"{fake.api_url}/{method}", json=params) as resp:
        return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def webhook_receiver(
    status: int = 200,
) -> AsyncIterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]], dict[str, Any]]]:
    """A tiny HTTP server standing in for the bot's webhook endpoint."""
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    state: dict[str, Any] = {"status": status, "reply": {}}

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        return web.json_response(state["reply"], status=state["status"])

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received, state
    finally:
        await runner.cleanup()


def keyboard(*rows: list[tuple[str, str]]) -> at.InlineKeyboardMarkup:
    return at.InlineKeyboardMarkup(
        inline_keyboard=[
            [at.InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
        ]
    )


# --------------------------------------------------------------------------- routing


async def test_raw_routing_token_and_case_insensitive_methods(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.api_url}/getme") as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True
    assert body["result"]["id"] == 123456
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "kierto_test_bot"

    status, body = await api(http, fake, "GETME")
    assert status == 200 and body["ok"]

    async with http.post(f"{fake.base_url}/bot123456:WRONG/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    status, body = await api(http, fake, "sendTelepathy", chat_id=1)
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [c.status for c in fake.calls] == [200, 200, 401, 404]
    assert fake.calls_to("getme")[0].method == "getMe"


async def test_json_urlencoded_and_multipart_bodies_decode_alike(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    user = fake.user(42)
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    lpo = {"is_disabled": True}

    status, body = await api(
        http, fake, "sendMessage", chat_id=42, text="json", reply_markup=markup,
        link_preview_options=lpo,
    )  # fmt: skip
    assert status == 200, body

    form = {
        "chat_id": "42",
        "text": "form",
        "reply_markup": json.dumps(markup),
        "link_preview_options": json.dumps(lpo),
        "disable_notification": "true",
    }
    async with http.post(f"{fake.api_url}/sendMessage", data=form) as resp:
        assert resp.status == 200, await resp.text()

    mp = aiohttp.FormData(quote_fields=False)
    for key, value in form.items():
        mp.add_field(key, value.replace("form", "multipart"))
    mp.add_field("unused_file", b"xyz", filename="x.bin")  # forces multipart/form-data
    async with http.post(f"{fake.api_url}/sendMessage", data=mp) as resp:
        assert resp.status == 200, await resp.text()

    assert user.texts == ["json", "form", "multipart"]
    for call in fake.calls_to("sendMessage"):
        assert call.params is not None
        assert call.params["chat_id"] == 42
        assert call.params["reply_markup"] == markup
        assert call.params["link_preview_options"] == lpo
    assert fake.calls_to("sendMessage")[1].params["disable_notification"] is True
    assert all(m.link_preview_options == lpo for m in user.bot_messages)
    assert all(m.reply_markup == markup for m in user.bot_messages)


# --------------------------------------------------------------------------- clients


async def test_aiogram_get_me_and_send_message_round_trip(fake: FakeTelegram) -> None:
    aino = fake.user(42, language_code="fi", first_name="Aino")
    async with aiogram_bot(fake) as bot:
        me = await bot.get_me()
        assert me.id == 123456 and me.is_bot and me.username == "kierto_test_bot"

        msg = await bot.send_message(
            42,
            "<b>Tervetuloa</b>, Aino &amp; <i>kaikki</i>!",
            parse_mode="HTML",
            reply_markup=keyboard([("Kyllä", "yes"), ("Ei", "no")]),
            link_preview_options=at.LinkPreviewOptions(is_disabled=True),
        )
    assert isinstance(msg, at.Message)
    assert msg.text == "Tervetuloa, Aino & kaikki!"
    assert msg.chat.id == 42 and msg.chat.type == "private"
    assert msg.from_user is not None and msg.from_user.id == 123456
    assert [(e.type, e.offset, e.length) for e in msg.entities or []] == [
        ("bold", 0, 10),
        ("italic", 19, 6),
    ]
    assert msg.reply_markup is not None
    assert msg.reply_markup.inline_keyboard[0][1].callback_data == "no"

    seen = aino.last_bot_message
    assert seen is not None
    assert seen.message_id == msg.message_id
    assert seen.text == "Tervetuloa, Aino & kaikki!"
    assert seen.html == "<b>Tervetuloa</b>, Aino &amp; <i>kaikki</i>!"
    assert seen.callback_data == ["yes", "no"]
    assert seen.link_preview_options == {"is_disabled": True}


async def test_ptb_get_me_and_send_message_round_trip(fake: FakeTelegram) -> None:
    aino = fake.user(42, language_code="fi", first_name="Aino")
    async with ptb_bot(fake) as bot:
        assert bot.username == "kierto_test_bot"  # initialize() called getMe
        msg = await bot.send_message(
            42,
            "Hei <u>Aino</u> 👋",
            parse_mode="HTML",
            reply_markup=telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Aloita", callback_data="start")]]
            ),
            disable_web_page_preview=True,
        )
    assert isinstance(msg, telegram.Message)
    assert msg.text == "Hei Aino 👋"
    assert msg.entities[0].type == telegram.constants.MessageEntityType.UNDERLINE
    assert msg.reply_markup is not None
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == "start"
    assert aino.texts == ["Hei Aino 👋"]
    assert aino.last_bot_message is not None
    assert aino.last_bot_message.link_preview_options == {"is_disabled": True}


async def test_photo_and_document_upload_through_aiogram(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    png = tiny_png(400, 200)
    async with aiogram_bot(fake) as bot:
        photo = await bot.send_photo(
            42,
            at.BufferedInputFile(png, filename="chart.png"),
            caption="<b>Tuloksesi</b>",
            parse_mode="HTML",
        )
        doc = await bot.send_document(
            42, at.BufferedInputFile(b"%PDF-1.4 fake", filename="raportti.pdf"), caption="PDF"
        )
        assert photo.photo is not None
        largest = photo.photo[-1]
        assert (largest.width, largest.height) == (400, 200)
        assert photo.caption == "Tuloksesi"
        assert doc.document is not None
        assert doc.document.file_name == "raportti.pdf"
        assert doc.document.mime_type == "application/pdf"
        # the uploaded bytes come back through getFile and the file URL
        downloaded = await bot.download(largest.file_id)
        assert downloaded is not None and downloaded.read() == png

    call = fake.calls_to("sendPhoto")[0]
    assert call.params is not None and call.params["photo"] == png
    assert call.files["photo"].filename == "chart.png"
    assert call.params["caption"] == "<b>Tuloksesi</b>"
    shown = aino.bot_messages
    assert shown[0].kind == "photo" and shown[0].photo == png
    assert shown[0].caption == "Tuloksesi" and shown[0].html == "<b>Tuloksesi</b>"
    assert shown[0].filename == "chart.png"
    assert shown[1].document == b"%PDF-1.4 fake" and shown[1].caption == "PDF"


async def test_photo_and_document_upload_through_ptb(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    png = tiny_png(30, 60)
    async with ptb_bot(fake) as bot:
        photo = await bot.send_photo(42, png, caption="kuva", filename="kuva.png")
        doc = await bot.send_document(42, b"a;b\n1;2\n", filename="data.csv")
        assert photo.photo[-1].width == 30 and photo.photo[-1].height == 60
        assert photo.caption == "kuva"
        assert doc.document is not None and doc.document.file_name == "data.csv"
        tg_file = await bot.get_file(photo.photo[-1].file_id)
        assert bytes(await tg_file.download_as_bytearray()) == png
        # re-sending by file_id uploads nothing
        again = await bot.send_photo(42, photo.photo[-1].file_id)
        assert again.photo[-1].file_id == photo.photo[-1].file_id

    call = fake.calls_to("sendPhoto")[0]
    assert call.params is not None and call.params["photo"] == png
    assert call.files["photo"].filename == "kuva.png"
    assert [m.kind for m in aino.bot_messages] == ["photo", "document", "photo"]
    assert aino.bot_messages[1].document == b"a;b\n1;2\n"
    assert aino.bot_messages[2].photo == png


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("ä<3", 'Unsupported start tag "3" at byte offset 2'),
        ("fish & chips", "Unsupported HTML entity at byte offset 5"),
        ("&nbsp;", "Unsupported HTML entity at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_html_parse_errors(fake: FakeTelegram, text: str, error: str) -> None:
    fake.user(42)
    async with aiogram_bot(fake) as bot:
        with pytest.raises(TelegramBadRequest) as info:
            await bot.send_message(42, text, parse_mode="HTML")
    assert info.value.message.startswith("Bad Request: can't parse entities: ")
    assert error in info.value.message
    assert fake.calls_to("sendMessage")[0].status == 400
    assert fake.user(42).bot_messages == []


def test_html_parser_accepts_what_telegram_accepts() -> None:
    text, entities = parse_html(
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>x</s>"
        '<strike>k</strike><del>d</del><code>c</code><a href="https://e.fi/?a=1&amp;b=2">l</a>'
        '<tg-spoiler>t</tg-spoiler><span class="tg-spoiler">p</span>'
        "<blockquote expandable>q</blockquote>"
        '<pre><code class="language-python">print()</code></pre> &lt;&gt;&quot;&#39;&#x41;'
    )
    assert text == "bsieunxkdcltpqprint() <>\"'A"
    kinds = [e["type"] for e in entities]
    assert kinds == [
        "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough",
        "strikethrough", "strikethrough", "code", "text_link", "spoiler", "spoiler",
        "expandable_blockquote", "pre",
    ]  # fmt: skip
    assert entities[10]["url"] == "https://e.fi/?a=1&b=2"
    assert entities[-1] == {"type": "pre", "offset": 14, "length": 7, "language": "python"}
    # offsets count UTF-16 code units, like Telegram's
    assert parse_html("😀 <b>x</b>")[1] == [{"type": "bold", "offset": 3, "length": 1}]
    # Telegram's own leniency for a stray "&" is available
    assert parse_html("fish & chips", strict_ampersand=False)[0] == "fish & chips"


async def test_length_limits_count_text_after_entity_parsing(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    fake.user(42)
    ok = "<b>" + "a" * 4096 + "</b>"
    status, body = await api(http, fake, "sendMessage", chat_id=42, text=ok, parse_mode="HTML")
    assert status == 200, body
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="a" * 4097)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="   ")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")

    async with aiogram_bot(fake) as bot:
        with pytest.raises(TelegramBadRequest, match="caption is too long"):
            await bot.send_photo(42, at.BufferedInputFile(tiny_png(), "p.png"), caption="x" * 1025)
        await bot.send_photo(42, at.BufferedInputFile(tiny_png(), "p.png"), caption="x" * 1024)
    async with ptb_bot(fake) as bot:
        with pytest.raises(telegram.error.BadRequest, match="Message is too long"):
            await bot.send_message(42, "é" * 4097)


async def test_keyboard_checks(fake: FakeTelegram, http: aiohttp.ClientSession) -> None:
    fake.user(42)
    too_long = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]}
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="t", reply_markup=too_long)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    # 64 bytes is fine, even when they are 32 two-byte characters
    ok = {"inline_keyboard": [[{"text": "x", "callback_data": "ä" * 32}]]}
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="t", reply_markup=ok)
    assert status == 200, body
    no_action = {"inline_keyboard": [[{"text": "x"}]]}
    status, body = await api(
        http, fake, "sendMessage", chat_id=42, text="t", reply_markup=no_action
    )
    assert status == 400 and "Text buttons are unallowed" in body["description"]
    assert fake.notes == []

    wide = {"inline_keyboard": [[{"text": str(i), "callback_data": str(i)} for i in range(9)]]}
    status, body = await api(http, fake, "sendMessage", chat_id=42, text="t", reply_markup=wide)
    assert status == 200, body
    assert [(n.kind, n.chat_id) for n in fake.notes] == [("row_too_wide", 42)]

    status, body = await api(http, fake, "sendMessage", chat_id=777, text="t")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


# --------------------------------------------------------------------------- edits


async def test_edits_apply_in_place_and_report_not_modified(fake: FakeTelegram) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        sent = await bot.send_message(
            42, "<b>Kysymys 1</b>", parse_mode="HTML", reply_markup=keyboard([("A", "a")])
        )
        edited = await bot.edit_message_text(
            "<b>Kysymys 2</b>",
            chat_id=42,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard([("B", "b")]),
        )
        assert isinstance(edited, at.Message) and edited.edit_date is not None

        # same text and markup (different HTML spelling of the same entities) → 400
        with pytest.raises(TelegramBadRequest) as info:
            await bot.edit_message_text(
                "<strong>Kysymys 2</strong>",
                chat_id=42,
                message_id=sent.message_id,
                parse_mode="HTML",
                reply_markup=keyboard([("B", "b")]),
            )
        assert info.value.message == NOT_MODIFIED
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_reply_markup(
                chat_id=42, message_id=sent.message_id, reply_markup=keyboard([("B", "b")])
            )
        with pytest.raises(TelegramBadRequest) as info:
            await bot.edit_message_text("x", chat_id=42, message_id=999)
        assert info.value.message == "Bad Request: message to edit not found"

        # editing the text without reply_markup removes the keyboard, as on Telegram
        await bot.edit_message_text("Valmis", chat_id=42, message_id=sent.message_id)
    async with ptb_bot(fake) as bot:
        with pytest.raises(telegram.error.BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Valmis", chat_id=42, message_id=sent.message_id)
        await bot.edit_message_reply_markup(
            chat_id=42,
            message_id=sent.message_id,
            reply_markup=telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("C", callback_data="c")]]
            ),
        )

    assert len(aino.bot_messages) == 1
    msg = aino.bot_messages[0]
    assert msg.text == "Valmis" and msg.callback_data == ["c"] and msg.edited
    assert [h["text"] for h in msg.history] == ["Kysymys 1", "Kysymys 2", "Valmis"]


async def test_delete_chat_action_and_reply_keyboard(
    fake: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    aino = fake.user(42)
    async with aiogram_bot(fake) as bot:
        await bot.send_chat_action(42, "typing")
        msg = await bot.send_message(
            42,
            "Valitse kieli",
            reply_markup=at.ReplyKeyboardMarkup(
                keyboard=[[at.KeyboardButton(text="Suomi"), at.KeyboardButton(text="English")]],
                resize_keyboard=True,
            ),
        )
        assert msg.reply_markup is None  # Telegram echoes inline keyboards only
        assert aino.reply_keyboard is not None
        assert aino.reply_keyboard["keyboard"][0][1]["text"] == "English"
        await bot.send_message(42, "OK", reply_markup=at.ReplyKeyboardRemove())
        assert aino.reply_keyboard is None
        assert await bot.delete_message(42, msg.message_id) is True
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await bot.delete_message(42, msg.message_id)
    assert [a for _, a in aino.chat.actions] == ["typing"]
    assert aino.texts == ["OK"]
    status, body = await api(http, fake, "sendChatAction", chat_id=42, action="dancing")
    assert (status, body["description"]) == (
        400,
        "Bad Request: wrong parameter action in request",
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
