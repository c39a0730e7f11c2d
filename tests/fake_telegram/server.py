"""The fake Bot API server: HTTP routing, failure rules, recording, dispatch to methods."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.fake_telegram.chats import FakeChat
from tests.fake_telegram.content import Content
from tests.fake_telegram.controls import Controls
from tests.fake_telegram.delivery import Delivery
from tests.fake_telegram.errors import ApiError, _raw_error, _RawHttpError
from tests.fake_telegram.limits import _BLOCKABLE_PREFIXES, BLOCKED, KICKED
from tests.fake_telegram.methods import Methods
from tests.fake_telegram.records import (
    Call,
    CallbackAnswer,
    Failure,
    Note,
    StoredFile,
    UploadedFile,
    WebhookDelivery,
    _Described,
    _PressedQuery,
    _Update,
    _Webhook,
)
from tests.fake_telegram.requests import (
    _as_chat_key,
    _read_request,
    _recorded_params,
    _render_error,
)
from tests.fake_telegram.signals import _Signal
from tests.fake_telegram.users import FakeUser

Handler = Callable[[dict[str, Any], dict[str, UploadedFile], Call], Any]


class FakeTelegram(Controls, Delivery, Content, Methods):
    """The fake Bot API server.

    ``async with FakeTelegram(token="123456:TEST") as fake:`` listens on
    ``127.0.0.1`` on a free port; give the bot ``fake.base_url`` as its API server.

    Options: ``bot_username``/``bot_first_name`` (what getMe says), ``record`` (keep
    request bodies and responses in :attr:`calls`), ``privacy_mode`` (Telegram's default
    for groups: the bot gets only commands, replies to it and mentions), ``first_update_id``,
    ``webhook_retry_delay`` (seconds between attempts at a failed webhook delivery),
    ``webhook_timeout``, ``callback_timeout`` (answerCallbackQuery later than this fails
    like Telegram's 15 s limit), ``strict_ampersand`` (see :func:`parse_html`).
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "kierto_test_bot",
        bot_first_name: str = "KIERTO test bot",
        record: bool = True,
        privacy_mode: bool = True,
        first_update_id: int = 1,
        webhook_retry_delay: float = 0.5,
        webhook_timeout: float = 10.0,
        callback_timeout: float = 15.0,
        strict_ampersand: bool = True,
        max_upload: int = 60 * 1024 * 1024,
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("token must look like '123456:SECRET'")
        self.token = token
        self.host = host
        self.port = port
        self.bot_id = int(bot_id)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.record = record
        self.privacy_mode = privacy_mode
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.callback_timeout = callback_timeout
        self.strict_ampersand = strict_ampersand
        self.max_upload = max_upload

        # records
        self.calls: list[Call] = []
        self.counts: Counter[str] = Counter()
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.notes: list[Note] = []
        self.updates: list[dict[str, Any]] = []
        self.dropped_updates: list[dict[str, Any]] = []
        self.server_errors: list[BaseException] = []
        self.close_calls = 0
        self.logged_out = False
        self._calls_by_method: dict[str, list[Call]] = {}

        # state
        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, FakeChat] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(secrets.randbelow(10**9) * 1000 + 1)
        self._pressed: dict[str, _PressedQuery] = {}
        self._commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self._blocked: set[int | str] = set()
        self._failures: dict[str, list[Failure]] = {}
        self._outage_until = 0.0
        self._outage_body = "json"
        self._duplicate_next = 0

        # updates
        self._next_update_id = first_update_id
        # the newest update queued for the bot (created updates the bot did not ask for are
        # dropped and do not count)
        self.last_update_id = 0
        self._allowed: frozenset[str] | None = None  # None: the default set
        self._queue: deque[_Update] = deque()
        self._last_returned_id = 0
        self._updates_signal = _Signal()
        self._poller: asyncio.Future[Any] | None = None

        # webhook
        self._webhook = _Webhook()
        self._wh_queues: dict[Any, deque[_Update]] = {}
        self._wh_ready: asyncio.Queue[Any] | None = None
        self._wh_pending = 0
        self._wh_inflight = 0
        self._wh_workers: list[asyncio.Task[None]] = []
        self._wh_session: aiohttp.ClientSession | None = None

        # activity
        self._signal = _Signal()
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._closing = False
        self._runner: web.AppRunner | None = None

        self._handlers: dict[str, Handler] = {}
        self._method_names: dict[str, str] = {}
        for name, handler in {
            "getMe": self._m_get_me,
            "getUpdates": self._m_get_updates,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "editMessageCaption": self._m_edit_message_caption,
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendPhoto": self._m_send_photo,
            "sendDocument": self._m_send_document,
            "sendChatAction": self._m_send_chat_action,
            "deleteMessage": self._m_delete_message,
            "setMyCommands": self._m_set_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "getFile": self._m_get_file,
            "close": self._m_close,
            "logOut": self._m_log_out,
        }.items():
            self.register(name, handler)

    # lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the bot's TELEGRAM_API_URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``{base_url}/bot{token}``; append ``/methodName``."""
        return f"{self.base_url}/bot{self.token}"

    def file_url(self, file_path: str) -> str:
        return f"{self.base_url}/file/bot{self.token}/{file_path}"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=self.max_upload)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._closing = False
        return self

    async def stop(self) -> None:
        self._closing = True
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("closing")
        self._updates_signal.fire()
        await self._stop_webhook_workers()
        if self._wh_session is not None:
            await self._wh_session.close()
            self._wh_session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._signal.fire()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def register(self, method: str, handler: Handler) -> None:
        """Serve ``method`` with ``handler(params, files, call)`` (sync or async) returning
        the ``result``; raise :class:`ApiError` to answer with an error."""
        self._handlers[method] = handler
        self._method_names[method.lower()] = method

    # ------------------------------------------------------------------ HTTP handling

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        raw_name = request.match_info["method"]
        if self.outage_active:
            err = (
                ApiError(502, "Bad Gateway")
                if self._outage_body == "json"
                else _raw_error(502, self._outage_body)
            )
            return self._finish_early(raw_name, started, err)
        if request.match_info["token"] != self.token:
            return self._finish_early(raw_name, started, ApiError(401, "Unauthorized"))
        name = self._method_names.get(raw_name.lower())
        if name is None:
            return self._finish_early(raw_name, started, ApiError(404, "Not Found"))
        try:
            params, files = await _read_request(request)
        except ApiError as err:
            return self._finish_early(name, started, err)
        status, body, ctype = await self._execute(name, params, files, started)
        return web.Response(body=body, status=status, content_type=ctype, charset="utf-8")

    def _finish_early(self, method: str, started: float, err: Exception) -> web.Response:
        status, body, ctype = _render_error(err)
        call = Call(method, None, status, started, time.monotonic() - started)
        if self.record:
            call.response = err.payload() if isinstance(err, ApiError) else body.decode()
        self._record(call)
        return web.Response(body=body, status=status, content_type=ctype, charset="utf-8")

    async def _execute(
        self,
        name: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        started: float,
        *,
        source: str = "http",
    ) -> tuple[int, bytes, str]:
        polling = name == "getUpdates"
        if not polling:
            self._inflight += 1
            self._touch()
        chat_id = params.get("chat_id")
        call = Call(name, None, 0, started, chat_id=chat_id, source=source)
        if self.record:
            call.params, call.files = _recorded_params(params, files)
        result: Any = None
        try:
            rule = self._match_failure(name, chat_id)
            if rule is not None:
                raise rule.error()
            if (
                chat_id is not None
                and self._blocked
                and name.lower().startswith(_BLOCKABLE_PREFIXES)
                and (chat_id in self._blocked or _as_chat_key(chat_id) in self._blocked)
            ):
                key = _as_chat_key(chat_id)
                raise ApiError(403, KICKED if isinstance(key, int) and key < 0 else BLOCKED)
            result = self._handlers[name](params, files, call)
            if inspect.isawaitable(result):
                result = await result
            payload: dict[str, Any] = {"ok": True}
            if isinstance(result, _Described):
                payload["result"] = result.result
                payload["description"] = result.description
            else:
                payload["result"] = result
            status = 200
            body = json.dumps(payload, ensure_ascii=False).encode()
            ctype = "application/json"
            if self.record:
                call.response = payload
        except (ApiError, _RawHttpError) as err:
            status, body, ctype = _render_error(err)
            if self.record:
                call.response = err.payload() if isinstance(err, ApiError) else body.decode()
        except Exception as exc:  # a bug in the fake: answer 500, keep it
            self.server_errors.append(exc)
            err = ApiError(500, f"Internal Server Error: fake_telegram bug: {exc!r}")
            status, body, ctype = _render_error(err)
        finally:
            if not polling:
                self._inflight -= 1
        call.status = status
        call.duration = time.monotonic() - started
        if not polling or (status == 200 and result):
            self._touch()
        self._record(call)
        return status, body, ctype

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self.counts[call.method] += 1
        self._calls_by_method.setdefault(call.method.lower(), []).append(call)
        self._signal.fire()

    def _match_failure(self, name: str, chat_id: Any) -> Failure | None:
        if not self._failures:
            return None
        for key in (name.lower(), "*"):
            for rule in self._failures.get(key, ()):
                if rule.matches(chat_id):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.hits += 1
                    return rule
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        if self.outage_active:
            return self._finish_early("<file>", started, ApiError(502, "Bad Gateway"))
        if request.match_info["token"] != self.token:
            return self._finish_early("<file>", started, ApiError(401, "Unauthorized"))
        f = self._files_by_path.get(request.match_info["path"])
        if f is None:
            return self._finish_early("<file>", started, ApiError(404, "Not Found"))
        self._record(Call("<file>", {"file_path": f.file_path}, 200, started))
        return web.Response(body=f.data, content_type=f.mime_type or "application/octet-stream")
