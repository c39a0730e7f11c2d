"""Records of what happened: requests, uploads, files, webhook deliveries, button
answers, notes and failure rules."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fake_telegram.errors import ApiError, _default_description, _raw_error
from tests.fake_telegram.limits import BLOCKED
from tests.fake_telegram.values import _same_chat

if TYPE_CHECKING:
    from tests.fake_telegram.server import FakeTelegram


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass
class StoredFile:
    """A file the fake knows by ``file_id`` (sent by the bot or by a fake user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    url: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)


@dataclass
class Call:
    """One Bot API request as the fake saw it.

    ``params`` has JSON-encoded fields decoded and uploaded files as ``bytes`` (their
    names and content types are in ``files``); it is ``None`` when the fake was made
    with ``record=False``.  ``time`` is ``time.monotonic()`` when the request arrived;
    the list :attr:`FakeTelegram.calls` is in order of completion.
    """

    method: str
    params: dict[str, Any] | None
    status: int = 0
    time: float = 0.0
    duration: float = 0.0
    response: Any = None
    files: dict[str, UploadedFile] = field(default_factory=dict)
    chat_id: int | str | None = None
    source: str = "http"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook and what the bot answered."""

    update_id: int
    status: int | None
    time: float
    duration: float
    secret_sent: str | None
    error: str | None = None


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery: which query, when, and with what."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    pressed_at: float
    answered_at: float

    @property
    def latency(self) -> float:
        return self.answered_at - self.pressed_at


@dataclass
class Note:
    """Something Telegram allows but a test may want to know about (for example a row of
    more than 8 inline buttons, or a group message privacy mode kept from the bot)."""

    kind: str
    method: str | None
    chat_id: int | str | None
    detail: str


@dataclass
class _PressedQuery:
    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    time: float


@dataclass
class _Update:
    update_id: int
    payload: dict[str, Any]
    key: Any


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(eq=False)
class Failure:
    """A failure rule made by :meth:`FakeTelegram.fail`.

    ``remaining`` counts down (``None``: forever); ``hits`` counts answers it gave;
    :meth:`cancel` removes it.
    """

    owner: FakeTelegram = field(repr=False)
    method: str
    status: int
    retry_after: int | None
    remaining: int | None
    chat_id: int | str | None
    description: str | None
    body: str
    hits: int = 0

    def matches(self, chat_id: Any) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.chat_id is None or _same_chat(self.chat_id, chat_id)

    def cancel(self) -> None:
        with contextlib.suppress(ValueError):
            self.owner._failures.get(self.method, []).remove(self)

    def error(self) -> Exception:
        status = self.status
        if status >= 500 and self.body != "json":
            return _raw_error(status, self.body)
        if status == 429:
            retry = self.retry_after if self.retry_after is not None else 1
            return ApiError(
                429,
                self.description or f"Too Many Requests: retry after {retry}",
                {"retry_after": retry},
            )
        if status == 403:
            return ApiError(403, self.description or BLOCKED)
        return ApiError(status, self.description or _default_description(status))

    def __repr__(self) -> str:
        return (
            f"Failure({self.method!r}, status={self.status}, remaining={self.remaining}, "
            f"hits={self.hits})"
        )


@dataclass
class _Described:
    """A result with a ``description`` next to it (setWebhook's "Webhook was set")."""

    result: Any
    description: str
