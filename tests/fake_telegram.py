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

import asyncio
import contextlib
import inspect
import itertools
import json
import mimetypes
import re
import secrets
import struct
import time
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

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

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ROW_WIDTH_LIMIT = 8
KEYBOARD_BUTTON_LIMIT = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the supergroup chat"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

#: Update types delivered when the bot has not chosen (Telegram's default list leaves
#: these three out).
NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "duration",
        "width",
        "height",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "entities",
        "caption_entities",
        "message_ids",
        "media",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BLOCKABLE_PREFIXES = ("send", "edit", "copy", "forward", "deletemessage", "stopmessage")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``.

    Raise it from a handler registered with :meth:`FakeTelegram.register` to answer
    with an error.
    """

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


class _RawHttpError(Exception):
    """An answer that is not Bot API JSON (a proxy's HTML or plain-text error page)."""

    def __init__(self, status: int, body: str, content_type: str) -> None:
        super().__init__(f"{status}")
        self.status = status
        self.body = body
        self.content_type = content_type


class HtmlParseError(ValueError):
    """Raised by :func:`parse_html` with Telegram's wording (without the
    ``"Bad Request: can't parse entities: "`` prefix)."""


class ButtonNotFound(LookupError):
    """:meth:`FakeUser.press` found no visible button with that callback data."""


class WaitTimeout(AssertionError):
    """A waiting helper gave up; the message says what the chat showed at that time."""


# --------------------------------------------------------------------------- records


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


class Failure:
    """A failure rule made by :meth:`FakeTelegram.fail`.

    ``remaining`` counts down (``None``: forever); ``hits`` counts answers it gave;
    :meth:`cancel` removes it.
    """

    def __init__(
        self,
        owner: FakeTelegram,
        method: str,
        status: int,
        retry_after: int | None,
        times: int | None,
        chat_id: int | str | None,
        description: str | None,
        body: str,
    ) -> None:
        self._owner = owner
        self.method = method
        self.status = status
        self.retry_after = retry_after
        self.remaining = times
        self.chat_id = chat_id
        self.description = description
        self.body = body
        self.hits = 0

    def matches(self, chat_id: Any) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.chat_id is None or _same_chat(self.chat_id, chat_id)

    def cancel(self) -> None:
        with contextlib.suppress(ValueError):
            self._owner._failures.get(self.method, []).remove(self)

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


def _default_description(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")


def _raw_error(status: int, body: str) -> _RawHttpError:
    phrase = _default_description(status)
    if body == "html":
        page = (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return _RawHttpError(status, page, "text/html")
    return _RawHttpError(status, f"{status} {phrase}", "text/plain")


# --------------------------------------------------------------------------- helpers


def _u16(s: str) -> int:
    """Length in UTF-16 code units (what Telegram's entity offsets count)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def _same_chat(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def _as_int(value: Any, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _now() -> int:
    return int(time.time())


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """A valid grey PNG of the given size (used as the default user photo)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, JPEG or GIF; (320, 320) when unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return 320, 320


# --------------------------------------------------------------------------- HTML

_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_:-]+")


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output
    attrs: dict[str, str]
    byte_offset: int
    language: str | None = None


def _decode_entities(value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return _NAMED_ENTITIES[m.group(1)]
        code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""

    return _ENTITY_RE.sub(repl, value)


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into plain text and message entities (UTF-16 offsets).

    Follows Telegram's parser (TDLib ``parse_html``) closely enough for tests: the
    supported tags are b, strong, i, em, u, ins, s, strike, del, code, pre, a,
    tg-spoiler, span class="tg-spoiler" and blockquote (``expandable`` allowed); the
    named entities are &lt; &gt; &amp; &quot; plus numeric ones.  Errors carry
    Telegram's wording ("Unsupported start tag ... at byte offset N", "Can't find end
    tag corresponding to start tag ...", "Unmatched end tag ...").

    ``strict_ampersand``: Telegram itself keeps a stray "&" as text; by default the
    fake rejects it (``Unsupported HTML entity at byte offset N``) so that bots that
    forget to escape user text are caught.  Pass ``False`` for Telegram's leniency.
    """
    out: list[str] = []
    u16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0

    def offset(pos: int) -> int:
        return len(text[:pos].encode("utf-8"))

    while i < n:
        c = text[i]
        if c == "&":
            m = _ENTITY_RE.match(text, i)
            if m is not None:
                ch = _decode_entities(m.group(0))
                if not ch:
                    raise HtmlParseError(f"Unsupported HTML entity at byte offset {offset(i)}")
                out.append(ch)
                u16 += _u16(ch)
                i = m.end()
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unsupported HTML entity at byte offset {offset(i)} (escape "&" as &amp;)'
                )
            out.append("&")
            u16 += 1
            i += 1
            continue
        if c != "<":
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            chunk = text[i:j]
            out.append(chunk)
            u16 += _u16(chunk)
            i = j
            continue

        begin = i
        i += 1
        if i < n and text[i] == "/":
            close = text.find(">", i)
            if close < 0:
                raise HtmlParseError(f"Unclosed end tag at byte offset {offset(begin)}")
            name = text[i + 1 : close].strip().lower()
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {offset(begin)}")
            top = stack[-1]
            if name and name != top.name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {offset(begin)}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            i = close + 1
            _close_entity(top, u16, stack, entities)
            continue

        j = i
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        name = text[i:j].lower()
        if name not in _TAG_TYPES:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {offset(begin)}')
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
        attrs: dict[str, str] = {}
        k = j
        while True:
            while k < n and text[k].isspace():
                k += 1
            if k >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
            if text[k] == ">":
                k += 1
                break
            m = _ATTR_NAME_RE.match(text, k)
            if m is None:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {offset(begin)}'
                )
            attr = m.group(0).lower()
            k = m.end()
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] == "=":
                k += 1
                while k < n and text[k].isspace():
                    k += 1
                if k >= n:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
                if text[k] in "\"'":
                    quote = text[k]
                    end = text.find(quote, k + 1)
                    if end < 0:
                        raise HtmlParseError(f"Unclosed start tag at byte offset {offset(begin)}")
                    value = text[k + 1 : end]
                    k = end + 1
                else:
                    end = k
                    while end < n and not text[end].isspace() and text[end] != ">":
                        end += 1
                    value = text[k:end]
                    k = end
                attrs[attr] = _decode_entities(value)
            elif name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
            else:
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {offset(begin)}"
                )
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}'
            )
        stack.append(_OpenTag(name, u16, attrs, offset(begin)))
        i = k

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(
    tag: _OpenTag, end: int, stack: list[_OpenTag], entities: list[dict[str, Any]]
) -> None:
    length = end - tag.start
    if tag.name == "code" and stack and stack[-1].name == "pre":
        cls = tag.attrs.get("class", "")
        if cls.startswith("language-") and tag.start == stack[-1].start:
            stack[-1].language = cls[len("language-") :]
    if length <= 0:
        return
    kind = _TAG_TYPES[tag.name]
    entity: dict[str, Any] = {"type": kind, "offset": tag.start, "length": length}
    if tag.name == "a":
        href = tag.attrs.get("href", "").strip()
        if not href:
            return
        entity["url"] = href
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "pre":
        # a <code> spanning the whole <pre> becomes the pre's language, not an entity
        for idx in range(len(entities) - 1, -1, -1):
            e = entities[idx]
            if e["type"] == "code" and e["offset"] == tag.start and e["length"] == length:
                del entities[idx]
                break
        if tag.language:
            entity["language"] = tag.language
    entities.append(entity)


def _strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace the way Telegram does, moving entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    out = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            out.append({**e, "offset": start, "length": end - start})
    return stripped, out


_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def _command_entities(text: str) -> list[dict[str, Any]]:
    out = []
    for m in _COMMAND_RE.finditer(text):
        out.append(
            {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        )
    return out


# --------------------------------------------------------------------------- signals


class _Signal:
    """Wakes every waiter at once; waiters take :meth:`future` before checking state."""

    __slots__ = ("_fut",)

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] | None = None

    def future(self) -> asyncio.Future[None]:
        if self._fut is None or self._fut.done():
            self._fut = asyncio.get_running_loop().create_future()
        return self._fut

    def fire(self) -> None:
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_result(None)


async def _wait_on(
    signal: _Signal,
    check: Callable[[], Any],
    timeout: float,  # noqa: ASYNC109
    describe: Callable[[], str],
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        fut = signal.future()
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout}s: {describe()}")
        await asyncio.wait({fut}, timeout=remaining)


# --------------------------------------------------------------------------- chats


@dataclass(eq=False)
class ChatMessage:
    """A message as the chat shows it now (edits applied in place).

    ``text`` is the plain text of a text message (entities stripped), ``caption`` the
    plain caption of a media message, ``content`` whichever of the two there is.
    ``raw`` is exactly what the bot sent (the HTML source with ``parse_mode="HTML"``),
    ``html`` the same but only when the parse mode was HTML.  ``photo``/``document`` hold
    uploaded bytes.  ``reply_markup`` is the inline keyboard (reply keyboards are on
    :attr:`FakeChat.reply_keyboard`).  ``history`` keeps earlier versions (with
    ``record=True``).
    """

    message_id: int
    chat: FakeChat = field(repr=False)
    from_bot: bool
    sender: dict[str, Any] = field(repr=False)
    date: int
    kind: str
    text: str | None = None
    caption: str | None = None
    raw: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list, repr=False)
    reply_markup: dict[str, Any] | None = field(default=None, repr=False)
    media: dict[str, Any] = field(default_factory=dict, repr=False)
    photo: bytes | None = field(default=None, repr=False)
    document: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    mime_type: str | None = None
    file_id: str | None = None
    reply_to_message_id: int | None = None
    link_preview_options: dict[str, Any] | None = field(default=None, repr=False)
    edit_date: int | None = None
    deleted: bool = False
    sent_at: float = field(default_factory=time.monotonic, repr=False)
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def content(self) -> str:
        """Text or caption, ``""`` when there is neither."""
        if self.text is not None:
            return self.text
        return self.caption or ""

    @property
    def html(self) -> str | None:
        return self.raw if (self.parse_mode or "").upper() == "HTML" else None

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def button_rows(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return self.reply_markup.get("inline_keyboard", [])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.button_rows for b in row]

    @property
    def button_texts(self) -> list[str]:
        return [b.get("text", "") for b in self.buttons]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def has_button(self, callback_data: str) -> bool:
        return any(b.get("callback_data") == callback_data for b in self.buttons)

    def to_api(self, *, include_reply: bool = True) -> dict[str, Any]:
        """The Telegram ``Message`` object."""
        d: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.edit_date is not None:
            d["edit_date"] = self.edit_date
        if include_reply and self.reply_to_message_id is not None:
            target = self.chat.messages.get(self.reply_to_message_id)
            if target is not None:
                d["reply_to_message"] = target.to_api(include_reply=False)
        if self.text is not None:
            d["text"] = self.text
            if self.entities:
                d["entities"] = self.entities
        d.update(self.media)
        if self.caption:
            d["caption"] = self.caption
            if self.entities:
                d["caption_entities"] = self.entities
        if self.link_preview_options:
            d["link_preview_options"] = self.link_preview_options
        if self.reply_markup:
            d["reply_markup"] = self.reply_markup
        return d

    def describe(self) -> str:
        who = "bot " if self.from_bot else "user"
        body = self.content or f"<{self.kind}>"
        if self.kind not in ("text",) and self.content:
            body = f"<{self.kind}> {body}"
        line = f"{who} #{self.message_id}: {body}"
        if self.button_rows:
            rows = [" | ".join(b.get("text", "?") for b in row) for row in self.button_rows]
            line += "  [" + " / ".join(rows) + "]"
        if self.edited:
            line += "  (edited)"
        return line

    def _snapshot(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "caption": self.caption,
            "raw": self.raw,
            "entities": self.entities,
            "reply_markup": self.reply_markup,
            "edit_date": self.edit_date,
        }


class FakeChat:
    """What one chat shows: the messages of both sides, the reply keyboard, chat actions
    and callback toasts.  Look it up with :meth:`FakeTelegram.chat`."""

    def __init__(
        self,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        user: FakeUser | None = None,
    ) -> None:
        self.id = chat_id
        self.type = chat_type
        self.title = title
        self.user = user
        self.messages: dict[int, ChatMessage] = {}
        self.last_message_id = 0
        self.reply_keyboard: dict[str, Any] | None = None
        self.force_reply = False
        self.actions: list[tuple[float, str]] = []
        self.toasts: list[CallbackAnswer] = []
        self.instance = str(secrets.randbits(62))
        self.signal = _Signal()

    # views ------------------------------------------------------------------

    @property
    def visible(self) -> list[ChatMessage]:
        """Every message still in the chat, oldest first."""
        return [m for m in self.messages.values() if not m.deleted]

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return [m for m in self.messages.values() if m.from_bot and not m.deleted]

    @property
    def user_messages(self) -> list[ChatMessage]:
        return [m for m in self.messages.values() if not m.from_bot and not m.deleted]

    @property
    def last_bot_message(self) -> ChatMessage | None:
        for m in reversed(self.messages.values()):
            if m.from_bot and not m.deleted:
                return m
        return None

    def message(self, message_id: int) -> ChatMessage:
        return self.messages[message_id]

    def find_button(self, callback_data: str) -> ChatMessage | None:
        """Newest visible bot message that has a button with this callback data."""
        for m in reversed(self.messages.values()):
            if m.from_bot and not m.deleted and m.has_button(callback_data):
                return m
        return None

    def transcript(self) -> str:
        """The chat as lines of text, for assertions and failure messages."""
        return "\n".join(m.describe() for m in self.visible)

    def to_api(self) -> dict[str, Any]:
        if self.type == "private" and self.user is not None:
            d: dict[str, Any] = {"id": self.id, "type": "private"}
            d["first_name"] = self.user.first_name
            if self.user.last_name:
                d["last_name"] = self.user.last_name
            if self.user.username:
                d["username"] = self.user.username
            return d
        return {"id": self.id, "type": self.type, "title": self.title or f"Chat {self.id}"}

    # changes ----------------------------------------------------------------

    def _add(self, message: ChatMessage) -> ChatMessage:
        self.messages[message.message_id] = message
        self.signal.fire()
        return message

    def _next_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    def __repr__(self) -> str:
        return f"FakeChat({self.id}, {self.type!r}, {len(self.messages)} messages)"


class FakeUser:
    """A Telegram user played by the test.  Get one with :meth:`FakeTelegram.user`.

    The ``send*`` and ``press`` methods queue an update for the bot and return the
    ``Message``/``CallbackQuery`` JSON they made; ``chat_id`` sends into a group
    instead of the private chat with the bot.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        *,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        is_premium: bool,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.is_premium = is_premium
        self.chat = FakeChat(user_id, "private", user=self)
        self._marks: dict[int, int] = {}

    def to_api(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        if self.is_premium:
            d["is_premium"] = True
        return d

    # what the user sees -------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """All visible messages of the private chat, both sides, oldest first."""
        return self.chat.visible

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return self.chat.bot_messages

    @property
    def last_bot_message(self) -> ChatMessage | None:
        return self.chat.last_bot_message

    @property
    def texts(self) -> list[str]:
        """Text (or caption) of every visible bot message."""
        return [m.content for m in self.chat.bot_messages]

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        return self.chat.reply_keyboard

    @property
    def commands(self) -> list[dict[str, str]]:
        """The command menu this user sees in the private chat (Telegram's scope and
        language fallback applied)."""
        return self.fake.visible_commands(self.id)

    def transcript(self) -> str:
        return self.chat.transcript()

    # acting ---------------------------------------------------------------------

    def _target(self, chat_id: int | None) -> FakeChat:
        if chat_id is None or chat_id == self.id:
            return self.chat
        chat = self.fake._chats.get(chat_id)
        if chat is None:
            chat = self.fake.group(chat_id)
        return chat

    def send(
        self,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send a text message; commands get ``bot_command`` entities as from Telegram."""
        chat = self._target(chat_id)
        ents = entities if entities is not None else _command_entities(text)
        return self.fake._user_message(
            self, chat, kind="text", text=text, entities=ents, reply_to=reply_to_message_id
        )

    def send_sticker(
        self, emoji: str = "👍", *, chat_id: int | None = None, set_name: str | None = None
    ) -> dict[str, Any]:
        chat = self._target(chat_id)
        f = self.fake._store_file(
            b"RIFF\x00\x00\x00\x00WEBPVP8 ", "sticker.webp", "image/webp", "stickers"
        )
        sticker: dict[str, Any] = {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": f.file_size,
        }
        if set_name:
            sticker["set_name"] = set_name
        return self.fake._user_message(self, chat, kind="sticker", media={"sticker": sticker})

    def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        chat = self._target(chat_id)
        data = data if data is not None else tiny_png(64, 48)
        sizes, f = self.fake._store_photo(data, "photo.jpg", "image/jpeg")
        return self.fake._user_message(
            self, chat, kind="photo", caption=caption, media={"photo": sizes}, file=f
        )

    def send_voice(
        self, data: bytes = b"OggS\x00fake-voice", *, duration: int = 2, chat_id: int | None = None
    ) -> dict[str, Any]:
        chat = self._target(chat_id)
        f = self.fake._store_file(data, "voice.ogg", "audio/ogg", "voice")
        voice = {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": f.file_size,
        }
        return self.fake._user_message(self, chat, kind="voice", media={"voice": voice}, file=f)

    def send_document(
        self,
        data: bytes,
        filename: str = "document.txt",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        chat = self._target(chat_id)
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        f = self.fake._store_file(data, filename, mime, "documents")
        doc = {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_name": filename,
            "mime_type": mime,
            "file_size": f.file_size,
        }
        return self.fake._user_message(
            self, chat, kind="document", caption=caption, media={"document": doc}, file=f
        )

    def send_raw(self, fields: dict[str, Any], *, chat_id: int | None = None) -> dict[str, Any]:
        """Send a message with arbitrary extra fields (``{"location": {...}}``, ...)."""
        chat = self._target(chat_id)
        kind = next(iter(fields), "other")
        return self.fake._user_message(self, chat, kind=kind, media=dict(fields))

    def press(
        self, callback_data: str, message_id: int | None = None, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Press an inline button: on the newest visible bot message that has one with this
        ``callback_data``, or on ``message_id``.  Raises :class:`ButtonNotFound` when no
        such button is visible.  Returns the ``CallbackQuery`` JSON (its ``id`` is the key
        of :attr:`FakeTelegram.callback_answers`)."""
        chat = self._target(chat_id)
        if message_id is None:
            msg = chat.find_button(callback_data)
        else:
            msg = chat.messages.get(message_id)
            if msg is not None and (
                msg.deleted or not msg.from_bot or not msg.has_button(callback_data)
            ):
                msg = None
        if msg is None:
            where = f"message {message_id}" if message_id is not None else "any bot message"
            raise ButtonNotFound(
                f"no visible button with callback_data {callback_data!r} on {where} in chat "
                f"{chat.id}; the chat shows:\n{chat.transcript() or '(nothing)'}"
            )
        return self.fake._press(self, chat, msg, callback_data)

    def tap(self, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """Press the newest visible inline button whose label is ``text``."""
        chat = self._target(chat_id)
        for m in reversed(chat.messages.values()):
            if not m.from_bot or m.deleted:
                continue
            for b in m.buttons:
                if b.get("text") == text and "callback_data" in b:
                    return self.fake._press(self, chat, m, b["callback_data"])
        raise ButtonNotFound(
            f"no visible button labelled {text!r} in chat {chat.id}; the chat shows:\n"
            f"{chat.transcript() or '(nothing)'}"
        )

    # waiting -------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[list[ChatMessage]], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        chat_id: int | None = None,
    ) -> Any:
        """Wait until ``predicate(bot_messages)`` is truthy and return its value.

        ``bot_messages`` are the visible bot messages of the chat, oldest first, edits
        applied.  Raises :class:`WaitTimeout` with the chat transcript otherwise."""
        chat = self._target(chat_id)
        return await _wait_on(
            chat.signal,
            lambda: predicate(chat.bot_messages),
            timeout,
            lambda: f"chat {chat.id} shows:\n{chat.transcript() or '(nothing)'}",
        )

    async def next_bot_message(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        chat_id: int | None = None,
    ) -> ChatMessage:
        """The first new bot message after the user's last action (send or press) or
        after the message this method last returned, whichever is later."""
        chat = self._target(chat_id)

        def check() -> ChatMessage | None:
            mark = self._marks.get(chat.id, 0)
            for mid in range(mark + 1, chat.last_message_id + 1):
                m = chat.messages.get(mid)
                if m is not None and m.from_bot and not m.deleted:
                    return m
            return None

        msg = await _wait_on(
            chat.signal,
            check,
            timeout,
            lambda: (
                f"no new bot message in chat {chat.id}; it shows:\n"
                f"{chat.transcript() or '(nothing)'}"
            ),
        )
        self._marks[chat.id] = msg.message_id
        return msg

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r}, language_code={self.language_code!r})"


# --------------------------------------------------------------------------- server

Handler = Callable[[dict[str, Any], dict[str, UploadedFile], Call], Any]


class _Described:
    """A result with a ``description`` next to it (setWebhook's "Webhook was set")."""

    def __init__(self, result: Any, description: str) -> None:
        self.result = result
        self.description = description


class FakeTelegram:
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

    # users and chats ------------------------------------------------------------------

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> FakeUser:
        """The user with this id (made on first use; later keyword arguments update it).
        Their private chat with the bot has ``chat_id == user_id``."""
        u = self._users.get(user_id)
        if u is None:
            u = FakeUser(
                self,
                user_id,
                first_name=first_name or f"User{user_id}",
                last_name=last_name,
                username=username,
                language_code=language_code,
                is_premium=is_premium,
            )
            self._users[user_id] = u
            self._chats[user_id] = u.chat
            return u
        if first_name is not None:
            u.first_name = first_name
        if last_name is not None:
            u.last_name = last_name
        if username is not None:
            u.username = username
        if language_code is not None:
            u.language_code = language_code
        if is_premium:
            u.is_premium = True
        return u

    @property
    def users(self) -> dict[int, FakeUser]:
        return self._users

    def group(self, chat_id: int, title: str | None = None) -> FakeChat:
        """The supergroup ``chat_id`` (made on first use)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = FakeChat(chat_id, "supergroup", title=title or f"Group {chat_id}")
            self._chats[chat_id] = chat
        elif title:
            chat.title = title
        return chat

    def chat(self, chat_id: int) -> FakeChat:
        """The chat with this id (KeyError when nobody made it)."""
        return self._chats[chat_id]

    def transcript(self, chat_id: int) -> str:
        return self._chats[chat_id].transcript()

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """User ``user_id`` writes ``text`` in supergroup ``chat_id``.  With privacy mode
        on (the default, as on Telegram) the bot only gets it when it is a command, a
        reply to the bot or mentions the bot; otherwise a ``privacy_mode`` note is kept."""
        self.group(chat_id, title)
        return self.user(user_id).send(
            text, chat_id=chat_id, reply_to_message_id=reply_to_message_id
        )

    def push_update(self, kind: str, obj: dict[str, Any], *, key: Any = None) -> int | None:
        """Queue a hand-made update ``{"update_id": N, kind: obj}``; returns N (``None``
        when the bot's allowed_updates leave it out)."""
        return self._enqueue(kind, obj, key)

    # failures ----------------------------------------------------------------------------

    def fail(
        self,
        method: str = "*",
        status: int = 429,
        *,
        retry_after: int | None = 1,
        times: int | None = 1,
        chat_id: int | str | None = None,
        description: str | None = None,
        body: str = "json",
    ) -> Failure:
        """Answer the next ``times`` requests to ``method`` (``"*"``: any; ``times=None``:
        until cancelled) with an error instead of running them.

        429 gives ``"Too Many Requests: retry after N"`` with ``parameters.retry_after``;
        403 ``"Forbidden: bot was blocked by the user"``; 5xx a JSON error, or with
        ``body="plain"``/``"html"`` a non-JSON page like a proxy's.  ``chat_id`` limits the
        rule to requests for that chat."""
        key = "*" if method == "*" else method.lower()
        rule = Failure(self, key, status, retry_after, times, chat_id, description, body)
        self._failures.setdefault(key, []).append(rule)
        return rule

    def clear_failures(self) -> None:
        self._failures.clear()

    def block(self, chat_id: int, *, notify: bool = False) -> None:
        """The user blocks the bot (or, for a group, removes it): every later send/edit to
        the chat answers 403 until :meth:`unblock`.  ``notify`` also queues the
        ``my_chat_member`` update Telegram sends."""
        self._blocked.add(chat_id)
        if notify:
            self._member_update(chat_id, "member", "kicked")

    def unblock(self, chat_id: int, *, notify: bool = False) -> None:
        self._blocked.discard(chat_id)
        if notify:
            self._member_update(chat_id, "kicked", "member")

    def outage(self, seconds: float, *, body: str = "json") -> None:
        """For ``seconds``, answer every request (getUpdates included, pending long polls
        too) with 502 Bad Gateway, and hold webhook deliveries.  ``body``: ``"json"``,
        ``"plain"`` or ``"html"``."""
        self._outage_until = time.monotonic() + seconds
        self._outage_body = body
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("outage")

    @property
    def outage_active(self) -> bool:
        return time.monotonic() < self._outage_until

    def duplicate_next(self, times: int = 1) -> None:
        """Deliver each of the next ``times`` updates twice, with the same update_id."""
        self._duplicate_next += times

    # records -----------------------------------------------------------------------------

    def calls_to(self, method: str, **where: Any) -> list[Call]:
        """Recorded calls to ``method`` (any case), optionally filtered on params, e.g.
        ``calls_to("sendMessage", chat_id=42)``."""
        calls = self._calls_by_method.get(method.lower(), [])
        if not where:
            return list(calls)
        out = []
        for c in calls:
            p = c.params if c.params is not None else {"chat_id": c.chat_id}
            if all(k in p and _same_chat(p[k], v) for k, v in where.items()):
                out.append(c)
        return out

    def unanswered_callbacks(self) -> list[str]:
        """Ids of pressed callback queries the bot has not answered (yet)."""
        return [q for q in self._pressed if q not in self.callback_answers]

    def commands(
        self, scope: dict[str, Any] | str | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command list set for exactly this scope and language (like getMyCommands).
        ``scope`` is a BotCommandScope dict or a type name such as ``"all_private_chats"``."""
        if isinstance(scope, str):
            scope = {"type": scope}
        return list(self._commands.get((_scope_key(scope), language_code or ""), []))

    def visible_commands(
        self, user_id: int, chat_id: int | None = None, *, admin: bool = False
    ) -> list[dict[str, str]]:
        """The command menu user ``user_id`` sees in ``chat_id`` (default: the private
        chat), applying Telegram's order of scopes and the user's language."""
        user = self._users.get(user_id)
        lang = (user.language_code or "") if user else ""
        lang = lang.split("-")[0]
        if chat_id is None or chat_id == user_id:
            scopes: list[tuple[Any, ...]] = [
                ("chat", user_id),
                ("all_private_chats",),
                ("default",),
            ]
        else:
            scopes = [("chat_member", chat_id, user_id)]
            if admin:
                scopes.append(("chat_administrators", chat_id))
            scopes.append(("chat", chat_id))
            if admin:
                scopes.append(("all_chat_administrators",))
            scopes += [("all_group_chats",), ("default",)]
        for key in scopes:
            for lc in (lang, "") if lang else ("",):
                cmds = self._commands.get((key, lc))
                if cmds:
                    return list(cmds)
        return []

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    @property
    def webhook_url(self) -> str:
        return self._webhook.url

    @property
    def pending_update_count(self) -> int:
        return self._wh_pending if self._webhook.url else len(self._queue)

    # waiting ------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until ``predicate()`` (sync or async) is truthy; return its value.  It is
        checked after every request, update and webhook delivery."""
        return await _wait_on(
            self._signal,
            predicate,
            timeout,
            lambda: (
                f"predicate still false; last calls: "
                f"{[(c.method, c.status) for c in self.calls[-8:]]}"
            ),
        )

    async def idle(
        self,
        quiet: float = 0.3,
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        include_pending: bool = True,
    ) -> None:
        """Wait until the bot has made no request (other than an empty long poll) for
        ``quiet`` seconds, none is in flight and (``include_pending``) no update waits to be
        fetched or delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = time.monotonic()
            busy = self._inflight > 0 or self._wh_inflight > 0
            if include_pending and not busy:
                if self._webhook.url:
                    busy = self._wh_pending > 0
                else:
                    busy = bool(self._queue) and self._queue[-1].update_id > self._last_returned_id
            quiet_for = now - self._last_activity
            if not busy and quiet_for >= quiet:
                return
            if loop.time() >= deadline:
                raise WaitTimeout(
                    f"bot not idle after {timeout}s (in flight: {self._inflight}, pending: "
                    f"{self.pending_update_count}, quiet for {quiet_for:.2f}s)"
                )
            step = 0.02 if busy else max(quiet - quiet_for, 0.005)
            await asyncio.sleep(min(step, max(deadline - loop.time(), 0.005)))

    # ------------------------------------------------------------------ update machinery

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _enqueue(self, kind: str, obj: dict[str, Any], key: Any = None) -> int | None:
        allowed = self._allowed
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, kind: obj}
        if (kind in NOT_DEFAULT_UPDATES) if allowed is None else (kind not in allowed):
            self.dropped_updates.append(payload)
            return None
        if self.record:
            self.updates.append(payload)
        copies = 1
        if self._duplicate_next > 0:
            self._duplicate_next -= 1
            copies = 2
        for _ in range(copies):
            upd = _Update(update_id, payload, key)
            if self._webhook.url:
                self._wh_push(upd)
            else:
                self._queue.append(upd)
        self._updates_signal.fire()
        self._touch()
        self._signal.fire()
        return update_id

    def _confirm(self, offset: int) -> None:
        q = self._queue
        if offset < 0:
            while len(q) > -offset:
                q.popleft()
            return
        while q and q[0].update_id < offset:
            q.popleft()

    def _set_allowed(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise ApiError(400, "Bad Request: can't parse allowed updates list")
        self._allowed = frozenset(allowed) if allowed else None

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        *,
        kind: str,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        caption: str | None = None,
        media: dict[str, Any] | None = None,
        reply_to: int | None = None,
        file: StoredFile | None = None,
    ) -> dict[str, Any]:
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None or target.deleted:
                raise ValueError(f"chat {chat.id} has no message {reply_to} to reply to")
        cap_entities: list[dict[str, Any]] = []
        if caption:
            cap_entities = _command_entities(caption)
        msg = ChatMessage(
            message_id=chat._next_id(),
            chat=chat,
            from_bot=False,
            sender=user.to_api(),
            date=_now(),
            kind=kind,
            text=text,
            caption=caption,
            raw=text if text is not None else caption,
            entities=(entities or []) if text is not None else cap_entities,
            media=media or {},
            reply_to_message_id=reply_to,
        )
        if file is not None:
            msg.file_id = file.file_id
            msg.filename = file.filename
            msg.mime_type = file.mime_type
            if kind == "photo":
                msg.photo = file.data
            elif kind == "document":
                msg.document = file.data
        if kind == "text" and chat.force_reply:
            chat.force_reply = False
        chat._add(msg)
        user._marks[chat.id] = msg.message_id
        data = msg.to_api()
        if chat.type != "private" and self.privacy_mode and not self._privacy_allows(msg):
            self.notes.append(
                Note("privacy_mode", None, chat.id, f"message {msg.message_id} not delivered")
            )
            return data
        self._enqueue("message", data, chat.id)
        return data

    def _privacy_allows(self, msg: ChatMessage) -> bool:
        if msg.reply_to_message_id is not None:
            target = msg.chat.messages.get(msg.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        content = msg.content
        if f"@{self.bot_username}".lower() in content.lower():
            return True
        for e in msg.entities:
            if e["type"] == "bot_command":
                cmd = content[e["offset"] : e["offset"] + e["length"]]  # ASCII-safe enough
                _, at, target_bot = cmd.partition("@")
                if not at or target_bot.lower() == self.bot_username.lower():
                    return True
        return False

    def _press(self, user: FakeUser, chat: FakeChat, msg: ChatMessage, data: str) -> dict[str, Any]:
        qid = str(next(self._query_counter))
        cq = {
            "id": qid,
            "from": user.to_api(),
            "message": msg.to_api(),
            "chat_instance": chat.instance,
            "data": data,
        }
        self._pressed[qid] = _PressedQuery(
            qid, user.id, chat.id, msg.message_id, data, time.monotonic()
        )
        user._marks[chat.id] = chat.last_message_id
        self._enqueue("callback_query", cq, chat.id)
        return cq

    def _member_update(self, chat_id: int, old: str, new: str) -> None:
        chat = self._chats.get(chat_id)
        if chat is None:
            return
        actor = chat.user.to_api() if chat.user else self.bot_user
        bot = self.bot_user

        def member(status: str) -> dict[str, Any]:
            d: dict[str, Any] = {"status": status, "user": bot}
            if status == "kicked":
                d["until_date"] = 0
            return d

        self._enqueue(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": actor,
                "date": _now(),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
            chat_id,
        )

    # webhook delivery ------------------------------------------------------------------

    def _wh_push(self, upd: _Update) -> None:
        q = self._wh_queues.get(upd.key)
        if q is None:
            q = self._wh_queues[upd.key] = deque()
            if self._wh_ready is not None:
                self._wh_ready.put_nowait(upd.key)
        q.append(upd)
        self._wh_pending += 1

    async def _start_webhook_workers(self) -> None:
        await self._stop_webhook_workers()
        if self._wh_session is None:
            self._wh_session = aiohttp.ClientSession()
        self._wh_ready = asyncio.Queue()
        for key in self._wh_queues:
            self._wh_ready.put_nowait(key)
        n = max(1, min(self._webhook.max_connections, 100))
        self._wh_workers = [
            asyncio.create_task(self._webhook_worker(), name=f"fake-telegram-webhook-{i}")
            for i in range(n)
        ]

    async def _stop_webhook_workers(self) -> None:
        workers, self._wh_workers = self._wh_workers, []
        for t in workers:
            t.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        self._wh_ready = None
        self._wh_inflight = 0

    def _drain_webhook_queues(self) -> list[_Update]:
        items = [u for q in self._wh_queues.values() for u in q]
        self._wh_queues.clear()
        self._wh_pending = 0
        items.sort(key=lambda u: u.update_id)
        return items

    async def _webhook_worker(self) -> None:
        assert self._wh_ready is not None
        ready = self._wh_ready
        while True:
            key = await ready.get()
            q = self._wh_queues.get(key)
            if not q:
                self._wh_queues.pop(key, None)
                continue
            while self.outage_active:  # noqa: ASYNC110 - the outage ends by the clock
                await asyncio.sleep(max(self._outage_until - time.monotonic(), 0.01))
            upd = q[0]
            self._wh_inflight += 1
            try:
                ok = await self._deliver(upd)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in the fake: keep it, retry like a failure
                self.server_errors.append(exc)
                ok = False
            finally:
                self._wh_inflight -= 1
                self._touch()
                self._signal.fire()
            if ok:
                q.popleft()
                self._wh_pending -= 1
            else:
                await asyncio.sleep(self.webhook_retry_delay)
            if q:
                ready.put_nowait(key)
            else:
                self._wh_queues.pop(key, None)

    async def _deliver(self, upd: _Update) -> bool:
        assert self._wh_session is not None
        wh = self._webhook
        headers = {"Content-Type": "application/json"}
        if wh.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = wh.secret_token
        started = time.monotonic()
        body = json.dumps(upd.payload, ensure_ascii=False).encode()
        try:
            async with self._wh_session.post(
                wh.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status = resp.status
                reason = resp.reason or ""
                reply = await self._webhook_reply(resp) if 200 <= status < 300 else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any transport failure is a failed delivery
            wh.last_error_date = _now()
            wh.last_error_message = f"Connection failed: {type(exc).__name__}: {exc}"
            self.webhook_deliveries.append(
                WebhookDelivery(
                    upd.update_id,
                    None,
                    started,
                    time.monotonic() - started,
                    wh.secret_token,
                    wh.last_error_message,
                )
            )
            return False
        self.webhook_deliveries.append(
            WebhookDelivery(
                upd.update_id, status, started, time.monotonic() - started, wh.secret_token
            )
        )
        if not 200 <= status < 300:
            wh.last_error_date = _now()
            wh.last_error_message = f"Wrong response from the webhook: {status} {reason}"
            return False
        if reply is not None:
            method, params, files = reply
            name = self._method_names.get(method.lower())
            if name is not None:
                await self._execute(name, params, files, time.monotonic(), source="webhook_reply")
        return True

    async def _webhook_reply(
        self, resp: aiohttp.ClientResponse
    ) -> tuple[str, dict[str, Any], dict[str, UploadedFile]] | None:
        """A method call in the webhook's answer, which Telegram executes."""
        ctype = resp.content_type
        params: dict[str, Any]
        files: dict[str, UploadedFile] = {}
        if ctype == "application/json":
            raw = await resp.read()
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                return None
            if not isinstance(data, dict):
                return None
            params = dict(data)
        elif ctype == "multipart/form-data":
            reader = aiohttp.MultipartReader(resp.headers, resp.content)
            params, files = await _read_multipart(reader)
        else:
            await resp.read()
            return None
        method = params.pop("method", None)
        if not isinstance(method, str):
            return None
        return method, _coerce(params), files

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

    # ------------------------------------------------------------------ content helpers

    def _chat_for(self, params: dict[str, Any]) -> FakeChat:
        cid = params.get("chat_id")
        if cid is None or cid == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self._chats.get(cid) if isinstance(cid, int) else None
        if chat is None and isinstance(cid, str):
            key = _as_chat_key(cid)
            chat = self._chats.get(key) if isinstance(key, int) else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _format(
        self,
        text: Any,
        parse_mode: Any,
        entities: Any,
        *,
        caption: bool,
        call: Call,
    ) -> tuple[str, list[dict[str, Any]], str | None]:
        """Validate and parse a text or caption: (plain text, entities, parse mode)."""
        if text is None:
            text = ""
        if not isinstance(text, str):
            text = str(text)
        mode = parse_mode if isinstance(parse_mode, str) and parse_mode else None
        ents: list[dict[str, Any]] = []
        if mode is not None:
            m = mode.lower()
            if m == "html":
                try:
                    text, ents = parse_html(text, strict_ampersand=self.strict_ampersand)
                except HtmlParseError as err:
                    raise ApiError(400, f"Bad Request: can't parse entities: {err}") from None
            elif m in ("markdown", "markdownv2"):
                self.notes.append(Note("parse_mode_not_checked", call.method, call.chat_id, mode))
            else:
                raise ApiError(400, "Bad Request: unsupported parse_mode")
        elif entities:
            if not isinstance(entities, list):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")
            ents = [dict(e) for e in entities if isinstance(e, dict)]
        text, ents = _strip_text(text, ents)
        if caption:
            if len(text) > CAPTION_LIMIT:
                raise ApiError(400, "Bad Request: message caption is too long")
        else:
            if not text:
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > TEXT_LIMIT:
                raise ApiError(400, "Bad Request: message is too long")
        return text, ents, mode

    def _markup(
        self, markup: Any, chat: FakeChat, call: Call, *, inline_only: bool = False
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Validate reply_markup: (inline keyboard for the message, other markup)."""
        if markup is None or markup == "" or markup == {}:
            return None, None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should '
                    "be an Array of Arrays",
                )
            total = 0
            clean_rows = []
            for r, row in enumerate(rows):
                if len(row) > ROW_WIDTH_LIMIT:
                    self.notes.append(
                        Note(
                            "row_too_wide",
                            call.method,
                            chat.id,
                            f"row {r} has {len(row)} buttons (more than {ROW_WIDTH_LIMIT})",
                        )
                    )
                clean_row = []
                for b in row:
                    total += 1
                    clean_row.append(_check_inline_button(b))
                if clean_row:
                    clean_rows.append(clean_row)
            if total > KEYBOARD_BUTTON_LIMIT:
                self.notes.append(
                    Note("too_many_buttons", call.method, chat.id, f"{total} buttons")
                )
            return ({"inline_keyboard": clean_rows} if clean_rows else None), None
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(
                    400,
                    'Bad Request: field "keyboard" of the ReplyKeyboardMarkup should be an '
                    "Array of Arrays",
                )
            for row in rows:
                for b in row:
                    if not (isinstance(b, str) or (isinstance(b, dict) and "text" in b)):
                        raise ApiError(400, "Bad Request: can't parse keyboard button")
            return None, markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None, markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    def _apply_other_markup(self, chat: FakeChat, other: dict[str, Any] | None) -> None:
        if other is None:
            return
        if "keyboard" in other:
            chat.reply_keyboard = other
        elif other.get("remove_keyboard"):
            chat.reply_keyboard = None
        elif other.get("force_reply"):
            chat.force_reply = True

    def _reply_target(self, chat: FakeChat, params: dict[str, Any]) -> int | None:
        rp = params.get("reply_parameters")
        if isinstance(rp, dict):
            mid = _as_int(rp.get("message_id"), "reply_parameters")
            allow = _as_bool(rp.get("allow_sending_without_reply", False))
            if rp.get("chat_id") not in (None, chat.id, str(chat.id)):
                self.notes.append(
                    Note("reply_in_other_chat", None, chat.id, "reply_parameters.chat_id")
                )
                return None
        else:
            mid = _as_int(params.get("reply_to_message_id"), "reply_to_message_id")
            allow = _as_bool(params.get("allow_sending_without_reply", False))
        if mid is None:
            return None
        target = chat.messages.get(mid)
        if target is None or target.deleted:
            if allow:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return mid

    def _link_preview(self, params: dict[str, Any]) -> dict[str, Any] | None:
        lpo = params.get("link_preview_options")
        if isinstance(lpo, dict) and lpo:
            return lpo
        if _as_bool(params.get("disable_web_page_preview", False)):
            return {"is_disabled": True}
        return None

    def _bot_message(self, chat: FakeChat, **fields: Any) -> ChatMessage:
        msg = ChatMessage(
            message_id=chat._next_id(),
            chat=chat,
            from_bot=True,
            sender=self.bot_user,
            date=_now(),
            **fields,
        )
        return chat._add(msg)

    def _store_file(
        self, data: bytes, filename: str | None, mime: str | None, folder: str
    ) -> StoredFile:
        n = next(self._file_counter)
        ext = ""
        if filename and "." in filename:
            ext = filename.rsplit(".", 1)[1]
        elif mime:
            ext = (mimetypes.guess_extension(mime) or ".bin").lstrip(".")
        file_id = f"BQACAgIAAxkBAAI{n:08d}{secrets.token_hex(6)}"
        f = StoredFile(
            file_id=file_id,
            file_unique_id=f"AgAD{n:08d}",
            data=data,
            file_path=f"{folder}/file_{n}.{ext or 'bin'}",
            filename=filename,
            mime_type=mime,
        )
        self._files[file_id] = f
        self._files_by_path[f.file_path] = f
        return f

    def _store_photo(
        self, data: bytes, filename: str | None, mime: str | None
    ) -> tuple[list[dict[str, Any]], StoredFile]:
        """Store a photo and make the PhotoSize list Telegram returns (largest last)."""
        f = self._store_file(data, filename, mime or "image/jpeg", "photos")
        w, h = _image_size(data)
        f.width, f.height = w, h
        longest = max(w, h, 1)
        sizes: list[dict[str, Any]] = []
        for side in (90, 320, 800):
            if side < longest and longest > 0:
                scale = side / longest
                thumb = self._store_file(data, filename, f.mime_type, "photos")
                sizes.append(
                    {
                        "file_id": thumb.file_id,
                        "file_unique_id": thumb.file_unique_id,
                        "file_size": max(1, int(len(data) * scale * scale)),
                        "width": max(1, round(w * scale)),
                        "height": max(1, round(h * scale)),
                    }
                )
        scale = min(1.0, 1280 / longest)
        sizes.append(
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "file_size": len(data),
                "width": max(1, round(w * scale)),
                "height": max(1, round(h * scale)),
            }
        )
        return sizes, f

    def _input_file(
        self, params: dict[str, Any], files: dict[str, UploadedFile], name: str
    ) -> tuple[StoredFile | None, UploadedFile | None]:
        """Resolve a file parameter: (already known file, fresh upload)."""
        value = params.get(name)
        if isinstance(value, UploadedFile):
            return None, value
        if isinstance(value, str) and value:
            if value.startswith("attach://"):
                up = files.get(value[len("attach://") :])
                if up is None:
                    raise ApiError(400, f'Bad Request: can\'t find attached file "{value}"')
                return None, up
            if value.startswith(("http://", "https://")):
                f = self._store_file(b"", value.rsplit("/", 1)[-1] or None, None, "url")
                f.url = value
                return f, None
            known = self._files.get(value)
            if known is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return known, None
        raise ApiError(400, f"Bad Request: there is no {name} in the request")

    # ------------------------------------------------------------------ methods

    def _m_get_me(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_get_updates(self, p: dict[str, Any], files: Any, call: Call) -> list[Any]:
        if self._webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _as_int(p.get("offset"), "offset", 0) or 0
        limit = min(max(_as_int(p.get("limit"), "limit", 100) or 100, 1), 100)
        timeout = max(_as_int(p.get("timeout"), "timeout", 0) or 0, 0)
        self._set_allowed(p.get("allowed_updates"))
        self._confirm(offset)
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("conflict")
        if not self._queue and timeout > 0 and not self._closing:
            poller: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._poller = poller
            await asyncio.wait(
                {poller, self._updates_signal.future()},
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._poller is poller:
                self._poller = None
            if poller.done():
                why = poller.result()
                if why == "conflict":
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                if why == "outage":
                    if self._outage_body == "json":
                        raise ApiError(502, "Bad Gateway")
                    raise _raw_error(502, self._outage_body)
                if why == "closing":
                    return []
            else:
                poller.cancel()
            if self._webhook.url:
                return []
        batch = [u.payload for u in itertools.islice(self._queue, limit)]
        if batch:
            self._last_returned_id = max(self._last_returned_id, batch[-1]["update_id"])
        return batch

    async def _m_set_webhook(self, p: dict[str, Any], files: Any, call: Call) -> _Described:
        url = p.get("url") or ""
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        if not url:
            return await self._m_delete_webhook(p, files, call)
        if not re.match(r"https?://[^/\s]+", url):
            raise ApiError(
                400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
            )
        secret = p.get("secret_token")
        if secret is not None and secret != "":
            if not isinstance(secret, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        else:
            secret = None
        max_conn = _as_int(p.get("max_connections"), "max_connections", 40) or 40
        if not 1 <= max_conn <= 100:
            raise ApiError(
                400, "Bad Request: bad webhook: max_connections must be between 1 and 100"
            )
        self._set_allowed(p.get("allowed_updates"))
        drop = _as_bool(p.get("drop_pending_updates", False))
        wh = self._webhook
        was_set = bool(wh.url)
        items = self._drain_webhook_queues() if was_set else list(self._queue)
        self._queue.clear()
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("closing")
        wh.url = url
        wh.secret_token = secret
        wh.max_connections = max_conn
        wh.allowed_updates = (
            p.get("allowed_updates")
            if isinstance(p.get("allowed_updates"), list)
            else wh.allowed_updates
        )
        wh.last_error_date = None
        wh.last_error_message = None
        if not drop:
            for u in items:
                self._wh_push(u)
        await self._start_webhook_workers()
        return _Described(True, "Webhook was set")

    async def _m_delete_webhook(self, p: dict[str, Any], files: Any, call: Call) -> _Described:
        drop = _as_bool(p.get("drop_pending_updates", False))
        wh = self._webhook
        if not wh.url:
            if drop:
                self._queue.clear()
            return _Described(True, "Webhook is already deleted")
        await self._stop_webhook_workers()
        items = self._drain_webhook_queues()
        self._webhook = _Webhook()
        self._queue.clear()
        if not drop:
            self._queue.extend(items)
        return _Described(True, "Webhook was deleted")

    def _m_get_webhook_info(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        wh = self._webhook
        info: dict[str, Any] = {
            "url": wh.url,
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }
        if wh.url:
            info["max_connections"] = wh.max_connections
            info["ip_address"] = "127.0.0.1"
            if wh.allowed_updates:
                info["allowed_updates"] = wh.allowed_updates
            if wh.last_error_date is not None:
                info["last_error_date"] = wh.last_error_date
                info["last_error_message"] = wh.last_error_message
        return info

    def _m_send_message(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat = self._chat_for(p)
        text, ents, mode = self._format(
            p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False, call=call
        )
        inline, other = self._markup(p.get("reply_markup"), chat, call)
        reply_to = self._reply_target(chat, p)
        msg = self._bot_message(
            chat,
            kind="text",
            text=text,
            raw=p.get("text") if isinstance(p.get("text"), str) else text,
            parse_mode=mode,
            entities=ents,
            reply_markup=inline,
            reply_to_message_id=reply_to,
            link_preview_options=self._link_preview(p),
        )
        self._apply_other_markup(chat, other)
        return msg.to_api()

    def _editable(self, p: dict[str, Any]) -> tuple[FakeChat, ChatMessage]:
        if p.get("inline_message_id") and p.get("chat_id") is None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._chat_for(p)
        mid = _as_int(p.get("message_id"), "message_id")
        if mid is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        msg = chat.messages.get(mid)
        if msg is None or msg.deleted:
            raise ApiError(400, EDIT_NOT_FOUND)
        if not msg.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _apply_edit(self, chat: FakeChat, msg: ChatMessage, **changes: Any) -> dict[str, Any]:
        if self.record:
            msg.history.append(msg._snapshot())
        for k, v in changes.items():
            setattr(msg, k, v)
        msg.edit_date = _now()
        chat.signal.fire()
        return msg.to_api()

    def _m_edit_message_text(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat, msg = self._editable(p)
        if msg.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, ents, mode = self._format(
            p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False, call=call
        )
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if text == msg.text and ents == msg.entities and inline == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        lpo = self._link_preview(p)
        return self._apply_edit(
            chat,
            msg,
            text=text,
            entities=ents,
            raw=p.get("text") if isinstance(p.get("text"), str) else text,
            parse_mode=mode,
            reply_markup=inline,
            link_preview_options=lpo if lpo is not None else msg.link_preview_options,
        )

    def _m_edit_message_caption(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        chat, msg = self._editable(p)
        if msg.kind == "text":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, ents, mode = self._format(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            caption=True,
            call=call,
        )
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if (
            (caption or None) == (msg.caption or None)
            and ents == msg.entities
            and inline == msg.reply_markup
        ):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(
            chat,
            msg,
            caption=caption or None,
            entities=ents,
            raw=p.get("caption") if isinstance(p.get("caption"), str) else caption,
            parse_mode=mode,
            reply_markup=inline,
        )

    def _m_edit_message_reply_markup(
        self, p: dict[str, Any], files: Any, call: Call
    ) -> dict[str, Any]:
        chat, msg = self._editable(p)
        inline, _ = self._markup(p.get("reply_markup"), chat, call, inline_only=True)
        if inline == msg.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(chat, msg, reply_markup=inline)

    def _m_answer_callback_query(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        qid = p.get("callback_query_id")
        qid = str(qid) if qid is not None else ""
        pressed = self._pressed.get(qid)
        now = time.monotonic()
        if (
            pressed is None
            or qid in self.callback_answers
            or now - pressed.time > self.callback_timeout
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=qid,
            text=text,
            show_alert=_as_bool(p.get("show_alert", False)),
            url=p.get("url"),
            cache_time=_as_int(p.get("cache_time"), "cache_time"),
            pressed_at=pressed.time,
            answered_at=now,
        )
        self.callback_answers[qid] = answer
        chat = self._chats.get(pressed.chat_id)
        if chat is not None:
            chat.toasts.append(answer)
            chat.signal.fire()
        return True

    def _media_message(
        self,
        p: dict[str, Any],
        files: dict[str, UploadedFile],
        call: Call,
        field_name: str,
    ) -> dict[str, Any]:
        chat = self._chat_for(p)
        known, upload = self._input_file(p, files, field_name)
        caption, ents, mode = self._format(
            p.get("caption"),
            p.get("parse_mode"),
            p.get("caption_entities"),
            caption=True,
            call=call,
        )
        inline, other = self._markup(p.get("reply_markup"), chat, call)
        reply_to = self._reply_target(chat, p)
        if upload is not None and not upload.data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if field_name == "photo":
            if upload is not None:
                sizes, f = self._store_photo(upload.data, upload.filename, upload.content_type)
            else:
                assert known is not None
                f = known
                w, h = (f.width or 320, f.height or 320)
                sizes = [
                    {
                        "file_id": f.file_id,
                        "file_unique_id": f.file_unique_id,
                        "file_size": f.file_size,
                        "width": w,
                        "height": h,
                    }
                ]
            media: dict[str, Any] = {"photo": sizes}
        else:
            if upload is not None:
                mime = upload.content_type
                if mime in ("", "application/octet-stream") and upload.filename:
                    mime = mimetypes.guess_type(upload.filename)[0] or mime
                f = self._store_file(upload.data, upload.filename, mime, "documents")
            else:
                assert known is not None
                f = known
            doc: dict[str, Any] = {"file_id": f.file_id, "file_unique_id": f.file_unique_id}
            if f.filename:
                doc["file_name"] = f.filename
            if f.mime_type:
                doc["mime_type"] = f.mime_type
            doc["file_size"] = f.file_size
            media = {"document": doc}
        msg = self._bot_message(
            chat,
            kind=field_name,
            caption=caption or None,
            raw=p.get("caption") if isinstance(p.get("caption"), str) else None,
            parse_mode=mode,
            entities=ents,
            media=media,
            reply_markup=inline,
            reply_to_message_id=reply_to,
            filename=f.filename,
            mime_type=f.mime_type,
            file_id=f.file_id,
            photo=f.data if field_name == "photo" else None,
            document=f.data if field_name == "document" else None,
        )
        self._apply_other_markup(chat, other)
        return msg.to_api()

    def _m_send_photo(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return self._media_message(p, files, call, "photo")

    def _m_send_document(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        return self._media_message(p, files, call, "document")

    def _m_send_chat_action(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        chat = self._chat_for(p)
        action = p.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append((time.monotonic(), action))
        chat.signal.fire()
        return True

    def _m_delete_message(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        chat = self._chat_for(p)
        mid = _as_int(p.get("message_id"), "message_id")
        msg = chat.messages.get(mid) if mid is not None else None
        if msg is None or msg.deleted:
            raise ApiError(400, DELETE_NOT_FOUND)
        msg.deleted = True
        chat.signal.fire()
        return True

    def _commands_key(self, p: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
        scope = p.get("scope")
        if scope is not None and not isinstance(scope, dict):
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        lang = p.get("language_code") or ""
        if not isinstance(lang, str) or (lang and not re.fullmatch(r"[a-z]{2}", lang)):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return _scope_key(scope), lang

    def _m_set_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        key = self._commands_key(p)
        cmds = p.get("commands")
        if not isinstance(cmds, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(cmds) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        clean = []
        for c in cmds:
            if not isinstance(c, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(c.get("command", "")).lstrip("/")
            desc = str(c.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(desc.strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": desc})
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _m_delete_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def _m_get_my_commands(self, p: dict[str, Any], files: Any, call: Call) -> list[Any]:
        return list(self._commands.get(self._commands_key(p), []))

    def _m_get_file(self, p: dict[str, Any], files: Any, call: Call) -> dict[str, Any]:
        f = self._files.get(str(p.get("file_id") or ""))
        if f is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_size": f.file_size,
            "file_path": f.file_path,
        }

    def _m_close(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self.close_calls += 1
        return True

    def _m_log_out(self, p: dict[str, Any], files: Any, call: Call) -> bool:
        self.logged_out = True
        return True


# --------------------------------------------------------------------------- parsing


def _as_chat_key(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _scope_key(scope: dict[str, Any] | None) -> tuple[Any, ...]:
    if not scope:
        return ("default",)
    kind = scope.get("type")
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return (kind,)
    if kind in ("chat", "chat_administrators"):
        if scope.get("chat_id") is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        return (kind, _as_chat_key(scope["chat_id"]))
    if kind == "chat_member":
        if scope.get("chat_id") is None or scope.get("user_id") is None:
            raise ApiError(400, "Bad Request: chat_id or user_id is empty")
        return (kind, _as_chat_key(scope["chat_id"]), _as_chat_key(scope["user_id"]))
    raise ApiError(400, "Bad Request: wrong bot command scope type specified")


def _check_inline_button(b: Any) -> dict[str, Any]:
    if not isinstance(b, dict) or not isinstance(b.get("text"), str):
        raise ApiError(
            400,
            'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String',
        )
    actions = [k for k in _INLINE_BUTTON_ACTIONS if k in b and b[k] is not None]
    if not actions:
        raise ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in "
            "the inline keyboard",
        )
    if "callback_data" in actions:
        data = b["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in actions:
        url = b["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+", url):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return {k: v for k, v in b.items() if v is not None}


def _coerce(params: dict[str, Any]) -> dict[str, Any]:
    """Give form values (always strings) their JSON types, as Telegram does."""
    for k, v in list(params.items()):
        if not isinstance(v, str):
            continue
        if k in _JSON_PARAMS:
            if v.strip() == "":
                params[k] = None
                continue
            try:
                params[k] = json.loads(v)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {k} JSON object") from None
        elif k in _BOOL_PARAMS:
            params[k] = _as_bool(v)
        elif k in _INT_PARAMS or k == "chat_id":
            s = v.strip()
            if re.fullmatch(r"-?\d+", s):
                params[k] = int(s)
    return params


async def _read_multipart(
    reader: aiohttp.MultipartReader,
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, aiohttp.MultipartReader):
            await part.release()
            continue
        name = part.name
        data = bytes(await part.read(decode=True))
        if not name:
            continue
        if part.filename is not None:
            upload = UploadedFile(
                name,
                part.filename,
                part.headers.get("Content-Type", "application/octet-stream").split(";")[0],
                data,
            )
            files[name] = upload
            params[name] = upload
        else:
            params[name] = data.decode(part.get_charset(default="utf-8"), errors="replace")
    return params, files


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.body_exists:
        ctype = request.content_type
        try:
            if ctype == "application/json":
                raw = await request.read()
                if raw.strip():
                    data = json.loads(raw)
                    if not isinstance(data, dict):
                        raise ApiError(400, "Bad Request: JSON object expected")
                    params.update(data)
            elif ctype == "multipart/form-data":
                more, files = await _read_multipart(await request.multipart())
                params.update(more)
            elif ctype == "application/x-www-form-urlencoded":
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            else:
                await request.read()
        except ApiError:
            raise
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        except (ValueError, aiohttp.ClientError) as exc:
            raise ApiError(400, f"Bad Request: can't parse request body: {exc}") from None
    return _coerce(params), files


def _recorded_params(
    params: dict[str, Any], files: dict[str, UploadedFile]
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Params as recorded: uploads (direct or via attach://) as bytes, keyed by the
    parameter that used them; aiogram's random attachment part names left out."""
    out: dict[str, Any] = {}
    by_param: dict[str, UploadedFile] = {}
    referenced: set[str] = set()
    for k, v in params.items():
        if isinstance(v, str) and v.startswith("attach://") and v[9:] in files:
            referenced.add(v[9:])
            by_param[k] = files[v[9:]]
            out[k] = files[v[9:]].data
    for k, v in params.items():
        if k in out or k in referenced:
            continue
        if isinstance(v, UploadedFile):
            by_param[k] = v
            out[k] = v.data
        else:
            out[k] = v
    return out, by_param


def _render_error(err: Exception) -> tuple[int, bytes, str]:
    if isinstance(err, _RawHttpError):
        return err.status, err.body.encode(), err.content_type
    assert isinstance(err, ApiError)
    return err.status, json.dumps(err.payload(), ensure_ascii=False).encode(), "application/json"


# --------------------------------------------------------------------------- fixture


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
