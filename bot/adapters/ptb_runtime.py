"""The python-telegram-bot 22 runtime (`--runtime ptb`): PTB's Bot and types as a `Transport`.

PTB's `Bot` (with its httpx request layer) sends every request and `Update.de_json` parses
updates. The door around it (polling, webhook, failures, flood control) is the same as for
aiogram: `bot.adapters.telegram.TelegramDoor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.adapters.telegram.errors import ApiError, ApiErrorKind, api_call, api_error, classify
from bot.adapters.telegram.updates import ALLOWED_UPDATES, Incoming, incoming
from dialogs.actions import Keyboard

T = TypeVar("T")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _retry_after(exc: RetryAfter) -> float:
    value = exc.retry_after  # a timedelta with PTB_TIMEDELTA set
    return value.total_seconds() if isinstance(value, timedelta) else float(value or 1)


# the library's exception classes in the door's terms; subclasses before their bases
# (BadRequest is a NetworkError in PTB)
KINDS: tuple[tuple[type[Exception], ApiErrorKind], ...] = (
    (RetryAfter, ApiErrorKind.RETRY),
    (Forbidden, ApiErrorKind.BLOCKED),
    (BadRequest, ApiErrorKind.BAD),
    (NetworkError, ApiErrorKind.NETWORK),  # timeouts, connection errors and 5xx answers
    (TelegramError, ApiErrorKind.BAD),
)


def error_kind(exc: Exception) -> ApiError | None:
    """PTB's exceptions in the door's terms (None: not a Bot API failure)."""
    kind = classify(exc, KINDS)
    if not isinstance(exc, TelegramError) or kind is None:
        return None
    message = exc.message
    if kind is ApiErrorKind.NETWORK and "gateway" in message.lower():
        kind = ApiErrorKind.SERVER  # PTB reports 502/504 as a NetworkError
    retry_after = _retry_after(exc) if isinstance(exc, RetryAfter) else None
    return api_error(kind, message, retry_after)


async def _api(call: Callable[[], Awaitable[T]]) -> T:
    return await api_call(call, error_kind)


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.payload, url=b.url) for b in row]
            for row in keyboard
        ]
    )


class PtbTransport:
    name = "ptb"

    def __init__(self, token: str, api_url: str) -> None:
        self.bot = Bot(
            token,
            base_url=f"{api_url}/bot",
            base_file_url=f"{api_url}/file/bot",
            request=HTTPXRequest(
                connection_pool_size=128,
                read_timeout=15,
                write_timeout=30,
                connect_timeout=10,
                pool_timeout=10,
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=60, connect_timeout=10
            ),
        )
        self.bot_id = int(token.split(":")[0])
        self.username = ""

    async def start(self) -> None:
        await _api(self.bot.initialize)
        me = await _api(self.bot.get_me)
        self.bot_id, self.username = me.id, me.username or ""

    async def close(self) -> None:
        await self.bot.shutdown()

    async def get_updates(
        self, offset: int | None, wait: int, limit: int = 100
    ) -> Sequence[Update]:
        return await _api(
            lambda: self.bot.get_updates(
                offset=offset,
                timeout=wait,
                limit=limit,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=wait + 15,
            )
        )

    def parse_update(self, data: dict[str, Any]) -> Update:
        update = Update.de_json(data, self.bot)
        if update is None:
            raise ValueError("not an update")
        return update

    def incoming(self, update: Update) -> Incoming:
        return incoming(update, self.bot_id)

    async def send_text(
        self, chat_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> int:
        message = await _api(
            lambda: self.bot.send_message(
                chat_id,
                text,
                parse_mode="HTML" if html else None,
                reply_markup=markup(keyboard),
                link_preview_options=NO_PREVIEW,
            )
        )
        return message.message_id

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> None:
        await _api(
            lambda: self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode="HTML" if html else None,
                reply_markup=markup(keyboard),
                link_preview_options=NO_PREVIEW,
            )
        )

    async def send_file(
        self, chat_id: int, kind: str, data: bytes, filename: str, caption: str
    ) -> int:
        upload = InputFile(data, filename=filename)
        if kind == "photo":
            message = await _api(
                lambda: self.bot.send_photo(
                    chat_id, upload, caption=caption or None, parse_mode="HTML"
                )
            )
        else:
            message = await _api(
                lambda: self.bot.send_document(
                    chat_id, upload, caption=caption or None, parse_mode="HTML"
                )
            )
        return message.message_id

    async def answer_callback(self, callback_id: str, text: str, alert: bool) -> None:
        await _api(
            lambda: self.bot.answer_callback_query(callback_id, text=text or None, show_alert=alert)
        )

    async def set_commands(
        self, commands: list[tuple[str, str]], chat_id: int | None, language: str | None
    ) -> None:
        scope = BotCommandScopeChat(chat_id) if chat_id else BotCommandScopeDefault()
        await _api(
            lambda: self.bot.set_my_commands(
                [BotCommand(n, d) for n, d in commands], scope=scope, language_code=language
            )
        )

    async def delete_webhook(self) -> None:
        await _api(lambda: self.bot.delete_webhook(drop_pending_updates=False))

    async def set_webhook(self, url: str, secret: str) -> None:
        await _api(
            lambda: self.bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        )
