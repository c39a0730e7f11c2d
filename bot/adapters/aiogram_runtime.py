"""The aiogram 3 runtime (the default): aiogram's Bot API client and types as a `Transport`.

aiogram's `Bot` sends every request (through `TELEGRAM_API_URL`, e.g. a local Bot API
server) and its pydantic models parse the updates. Polling, the webhook and the rules for
failures are the shared `bot.adapters.telegram.TelegramDoor`, so both runtimes behave the
same; this module only translates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)

from bot.adapters.telegram.errors import ApiError, ApiErrorKind, api_call, api_error, classify
from bot.adapters.telegram.updates import ALLOWED_UPDATES, Incoming, incoming
from dialogs.actions import Keyboard

T = TypeVar("T")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# aiogram reads every answer as `Response[<the method's result type>]`, a pydantic generic
# model made on first use. pydantic keeps those models only weakly, so the garbage
# collector drops them and the next call builds the model again (its whole schema: a few
# milliseconds). Holding them here keeps each one built once.
_RESPONSE_MODELS = [
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.AnswerCallbackQuery,
        methods.DeleteWebhook,
        methods.EditMessageText,
        methods.GetMe,
        methods.GetUpdates,
        methods.SendDocument,
        methods.SendMessage,
        methods.SendPhoto,
        methods.SetMyCommands,
        methods.SetWebhook,
    )
]


# the library's exception classes in the door's terms; subclasses before their bases
KINDS: tuple[tuple[type[Exception], ApiErrorKind], ...] = (
    (TelegramRetryAfter, ApiErrorKind.RETRY),
    (TelegramForbiddenError, ApiErrorKind.BLOCKED),
    (TelegramServerError, ApiErrorKind.SERVER),
    (TelegramNetworkError, ApiErrorKind.NETWORK),
    (TelegramNotFound, ApiErrorKind.NOT_FOUND),
    (TelegramAPIError, ApiErrorKind.BAD),
    (ClientDecodeError, ApiErrorKind.SERVER),  # a proxy's HTML error page instead of JSON
    (OSError, ApiErrorKind.NETWORK),
    (TimeoutError, ApiErrorKind.NETWORK),
)


def error_kind(exc: Exception) -> ApiError | None:
    """aiogram's exceptions in the door's terms (None: not a Bot API failure)."""
    kind = classify(exc, KINDS)
    if kind is None:
        return None
    if isinstance(exc, TelegramAPIError):
        retry_after = float(exc.retry_after) if isinstance(exc, TelegramRetryAfter) else None
        return api_error(kind, exc.message, retry_after)
    description = "undecodable answer" if kind is ApiErrorKind.SERVER else type(exc).__name__
    return ApiError(kind, description)


async def _api(call: Callable[[], Awaitable[T]]) -> T:
    return await api_call(call, error_kind)


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.payload, url=b.url) for b in row]
            for row in keyboard
        ]
    )


class AiogramTransport:
    name = "aiogram"

    def __init__(self, token: str, api_url: str) -> None:
        # orjson reads the Bot API's answers several times faster than the json module
        self.session = AiohttpSession(
            api=TelegramAPIServer.from_base(api_url), json_loads=orjson.loads, json_dumps=_dumps
        )
        self.bot = Bot(token, session=self.session)
        self.bot_id = self.bot.id
        self.username = ""

    async def start(self) -> None:
        me = await _api(self.bot.get_me)
        self.bot_id, self.username = me.id, me.username or ""

    async def close(self) -> None:
        await self.session.close()

    async def get_updates(
        self, offset: int | None, wait: int, limit: int = 100
    ) -> Sequence[Update]:
        return await _api(
            lambda: self.bot.get_updates(
                offset=offset,
                timeout=wait,
                limit=limit,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=wait + 15,
            )
        )

    def parse_update(self, data: dict[str, Any]) -> Update:
        return Update.model_validate(data, context={"bot": self.bot})

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
                text=text,
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
        upload = BufferedInputFile(data, filename=filename)
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
        scope = BotCommandScopeChat(chat_id=chat_id) if chat_id else BotCommandScopeDefault()
        await _api(
            lambda: self.bot.set_my_commands(
                [BotCommand(command=n, description=d) for n, d in commands],
                scope=scope,
                language_code=language,
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
