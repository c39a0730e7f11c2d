"""A fake Telegram Bot API server for tests and benchmarks.

Telegram is unreachable from the test machines, so the bot's runtimes (aiogram 3 and
python-telegram-bot 22) are pointed at this server instead.  It speaks real HTTP and
answers with JSON shaped the way Telegram shapes it, so the libraries' own response
models validate what it returns.  It also plays the users, keeps what every chat shows
and records every request, so a test can drive a conversation end to end and then check
what the user saw.

Usage::

    from tests.fake_telegram import FakeTelegram

    async def test_start() -> None:
        async with FakeTelegram(token="123456:TEST") as fake:
            bot_task = start_my_bot(api_url=fake.base_url, token=fake.token)
            aino = fake.user(42, language_code="fi", first_name="Aino")
            aino.send("/start")
            welcome = await aino.next_bot_message(timeout=5)
            assert "Tervetuloa" in welcome.text
            aino.press("menu:faq")                      # newest message with that button
            await aino.wait_for(lambda msgs: "UKK" in msgs[-1].content)
            await fake.idle(quiet=0.3)                  # the bot has gone quiet
            assert fake.unanswered_callbacks() == []
            print(aino.transcript())

Pointing the clients at it::

    # aiogram
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = aiogram.Bot(fake.token, session=session)
    # python-telegram-bot
    bot = telegram.Bot(fake.token, base_url=f"{fake.base_url}/bot",
                       base_file_url=f"{fake.base_url}/file/bot")

What it serves (method names are case-insensitive, like Telegram's):

* ``/bot<token>/<method>`` accepting ``application/json``,
  ``application/x-www-form-urlencoded`` and ``multipart/form-data`` bodies (and query
  strings); complex fields (``reply_markup``, ``commands``, ``scope``, ...) may be
  JSON-encoded strings, as both libraries send them.
* ``/file/bot<token>/<file_path>`` for files found with ``getFile``.
* Methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo, sendMessage,
  editMessageText, editMessageReplyMarkup, editMessageCaption, answerCallbackQuery,
  sendPhoto, sendDocument, sendChatAction, deleteMessage, setMyCommands,
  deleteMyCommands, getMyCommands, getFile, close, logOut.  More can be added with
  :meth:`FakeTelegram.register`.

Test-side controls: :meth:`FakeTelegram.user`, :meth:`FakeTelegram.group_message`,
:meth:`FakeTelegram.push_update`, waiting (:meth:`FakeUser.wait_for`,
:meth:`FakeUser.next_bot_message`, :meth:`FakeTelegram.wait_until`,
:meth:`FakeTelegram.idle`), failure injection (:meth:`FakeTelegram.fail`,
:meth:`FakeTelegram.block`, :meth:`FakeTelegram.outage`,
:meth:`FakeTelegram.duplicate_next`) and records (:attr:`FakeTelegram.calls`,
:meth:`FakeTelegram.calls_to`, :attr:`FakeTelegram.webhook_deliveries`,
:attr:`FakeTelegram.callback_answers`, :attr:`FakeTelegram.notes`).

Everything runs on the event loop of the test; the test-side helpers that create
updates (``send``, ``press``, ...) are plain synchronous calls that queue the update and
return at once, the waiting helpers are coroutines.  Per-request work is O(1) in the
number of chats (dict look-ups only), so one instance can serve a benchmark of
thousands of users; pass ``record=False`` to keep no request bodies.

:func:`fake_telegram` is an async generator fixture function (not registered here);
register it in a conftest with ``pytest.fixture(fake_telegram)`` or
``pytest.fixture(name="fake_telegram")(fake_telegram)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.fake_telegram.chats import ChatMessage, FakeChat
from tests.fake_telegram.errors import ApiError, ButtonNotFound, HtmlParseError, WaitTimeout
from tests.fake_telegram.html_entities import parse_html
from tests.fake_telegram.png import tiny_png
from tests.fake_telegram.records import (
    Call,
    CallbackAnswer,
    Failure,
    Note,
    StoredFile,
    UploadedFile,
    WebhookDelivery,
)
from tests.fake_telegram.server import FakeTelegram
from tests.fake_telegram.users import FakeUser

__all__ = [
    "ApiError",
    "ButtonNotFound",
    "Call",
    "CallbackAnswer",
    "ChatMessage",
    "Failure",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "HtmlParseError",
    "Note",
    "StoredFile",
    "UploadedFile",
    "WaitTimeout",
    "WebhookDelivery",
    "fake_telegram",
    "parse_html",
    "tiny_png",
]


async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """Async generator fixture function: a started :class:`FakeTelegram` with the
    default token ``123456:TEST``; fails the test at teardown if the fake itself hit a
    bug (see :attr:`FakeTelegram.server_errors`).

    Register it in a conftest::

        from tests.fake_telegram import fake_telegram as _fake_telegram
        fake_telegram = pytest.fixture(_fake_telegram)
    """
    async with FakeTelegram() as fake:
        yield fake
    assert not fake.server_errors, f"fake_telegram hit internal errors: {fake.server_errors!r}"
