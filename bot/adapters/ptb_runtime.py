"""The python-telegram-bot 22 runtime (`--runtime ptb`): PTB's Bot and types as a `Transport`.

PTB's `Bot` sends every request and `Update.de_json` parses updates. The door around it
(polling, webhook, failures, flood control) is the same as for aiogram:
`bot.adapters.telegram.TelegramDoor`.

PTB's own HTTP layer (`HTTPXRequest`) cost more CPU per request than all of kierto-bot's
work on an update (httpx and httpcore's connection pool); `AiohttpRequest` is PTB's
documented extension point (`telegram.request.BaseRequest`) on aiohttp's client, the one
aiogram uses. PTB still builds every request, reads every answer and raises its own
errors (`BaseRequest.post`), so nothing else changes.

The calls every update makes (getUpdates, sendMessage, editMessageText,
answerCallbackQuery) go to that request object as `Bot` itself sends them
(`BaseRequest.post` with the parameters as `RequestData`), but with the parameters built
straight from the engine's action and the answer kept as the Bot API's JSON: building
PTB's objects for each request and answer (a whole Message, every update of a batch)
cost more CPU than the rest of the update. Failures raise PTB's exceptions as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import orjson
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InputFile,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

# as `Bot` builds a request (telegram/_bot.py `_do_post`); python-telegram-bot is pinned <23
from telegram.request._requestparameter import RequestParameter

from bot.adapters.telegram.errors import ApiError, ApiErrorKind, api_call, api_error, classify
from bot.adapters.telegram.transport import markup_json
from bot.adapters.telegram.updates import (
    ALLOWED_UPDATES,
    Incoming,
    RawUpdate,
    incoming,
    poll_payload,
    polled,
)
from dialogs.actions import Keyboard

T = TypeVar("T")
_JSON = {"Content-Type": "application/json"}


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


class AiohttpRequest(BaseRequest):
    """PTB's networking backend on aiohttp (see the module docstring). Timeouts as
    HTTPXRequest's: connect, read, write (aiohttp has no write timeout of its own: the
    whole request is bounded by connect + write + read) and the wait for a pooled
    connection."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        """PTB's reading of an answer (its documented hook for another JSON library), with
        orjson; anything orjson cannot read goes to PTB's own reading, errors and all."""
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        def given(value: Any, default: float | None) -> float | None:
            return default if value is BaseRequest.DEFAULT_NONE else value

        read = given(read_timeout, self._read_timeout)
        write = given(write_timeout, self._write_timeout)
        connect = given(connect_timeout, self._connect_timeout)
        pool = given(pool_timeout, self._pool_timeout)
        parts = (connect, write, read)
        total = None if None in parts else sum(p or 0.0 for p in parts) + (pool or 0.0)
        timeout = aiohttp.ClientTimeout(
            total=total, connect=pool, sock_connect=connect, sock_read=read
        )
        data: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, file in files.items():
                    if isinstance(file, tuple):
                        filename, content, *mime = file
                        form.add_field(
                            name,
                            content,
                            filename=filename,
                            content_type=mime[0] if mime else None,
                        )
                    else:
                        form.add_field(name, file)
                data = form
            else:
                # a JSON body (the Bot API takes JSON as well as forms): the parameters'
                # values as PTB made them, encoded once by orjson, where a form encodes
                # every parameter as JSON and then the whole form again
                data = orjson.dumps(request_data.parameters)
                headers = _JSON
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


class PtbTransport:
    name = "ptb"

    def __init__(self, token: str, api_url: str) -> None:
        self._request = AiohttpRequest(
            connection_pool_size=128,
            read_timeout=15,
            write_timeout=30,
            connect_timeout=10,
            pool_timeout=10,
        )
        self._poll_request = AiohttpRequest(
            connection_pool_size=2, read_timeout=60, connect_timeout=10
        )
        self.bot = Bot(
            token,
            base_url=f"{api_url}/bot",
            base_file_url=f"{api_url}/file/bot",
            request=self._request,
            get_updates_request=self._poll_request,
        )
        self.bot_id = int(token.split(":")[0])
        self.username = ""

    async def start(self) -> None:
        await _api(self.bot.initialize)
        me = await _api(self.bot.get_me)
        self.bot_id, self.username = me.id, me.username or ""

    async def close(self) -> None:
        await self.bot.shutdown()

    async def _post(
        self, endpoint: str, payload: dict[str, Any], read_timeout: float | None = None
    ) -> Any:
        """One Bot API call as `Bot` sends it (`BaseRequest.post`), the answer as the Bot
        API's JSON (see the module docstring); failures raise PTB's exceptions."""
        request = self._poll_request if endpoint == "getUpdates" else self._request
        data = RequestData([RequestParameter.from_input(k, v) for k, v in payload.items()])
        return await request.post(
            f"{self.bot.base_url}/{endpoint}",
            data,
            read_timeout=BaseRequest.DEFAULT_NONE if read_timeout is None else read_timeout,
        )

    async def get_updates(
        self, offset: int | None, wait: int, limit: int = 100
    ) -> Sequence[RawUpdate]:
        payload = poll_payload(offset, wait, limit)
        return polled(await _api(lambda: self._post("getUpdates", payload, wait + 15)))

    def parse_update(self, data: dict[str, Any]) -> RawUpdate:
        return RawUpdate(data)

    def incoming(self, update: Any) -> Incoming:
        return incoming(update, self.bot_id)

    @staticmethod
    def _text_payload(payload: dict[str, Any], keyboard: Keyboard, html: bool) -> dict[str, Any]:
        if html:
            payload["parse_mode"] = "HTML"
        if keyboard:
            payload["reply_markup"] = markup_json(keyboard)
        payload["link_preview_options"] = {"is_disabled": True}
        return payload

    async def send_text(
        self, chat_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> int:
        payload = self._text_payload({"chat_id": chat_id, "text": text}, keyboard, html)
        message = await _api(lambda: self._post("sendMessage", payload))
        return int(message["message_id"])

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> None:
        payload = {"chat_id": chat_id, "message_id": message_id, "text": text}
        payload = self._text_payload(payload, keyboard, html)
        await _api(lambda: self._post("editMessageText", payload))

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
        payload: dict[str, Any] = {"callback_query_id": callback_id}
        if text:
            payload["text"] = text
        if alert:
            payload["show_alert"] = True
        await _api(lambda: self._post("answerCallbackQuery", payload))

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
