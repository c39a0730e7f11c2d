"""The fake Bot API server answers requests like Telegram: routing and bodies, the two
client libraries' round trips and uploads, HTML and limit validation, edits."""

from __future__ import annotations

import json

import aiohttp
import pytest
import telegram
import telegram.error
from aiogram import types as at
from aiogram.exceptions import (
    TelegramBadRequest,
)

from tests.adapters.fake_clients import aiogram_bot, api, keyboard, ptb_bot
from tests.fake_telegram import (
    FakeTelegram,
    parse_html,
    tiny_png,
)
from tests.fake_telegram.limits import NOT_MODIFIED

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
