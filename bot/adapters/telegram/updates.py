"""Telegram updates as the engine's events.

Both runtimes read updates (from getUpdates and from the webhook) as the Bot API's plain
JSON, `RawUpdate`, and `incoming` reads the few fields the engine needs straight from it:
building aiogram's pydantic models or PTB's objects for a whole batch of updates, only
to read a dozen fields, cost more CPU than the rest of reading an update. A library's own
Update object is still understood (`incoming` reads its attributes: the libraries use the
Bot API's field names, except `from_user` for `from`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.adapters.telegram.errors import ApiError, ApiErrorKind
from dialogs.events import Button, Command, Event, Media, ReplyTo, Sender, Text, parse_command

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]

MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "animation",
    "audio",
    "document",
    "location",
    "contact",
    "poll",
    "dice",
    "venue",
)


@dataclass(frozen=True)
class Incoming:
    """One update as the engine sees it, plus what only the door needs."""

    update_id: int
    event: Event | None  # None: nothing for the engine (an unsupported kind of update)
    callback_id: str | None = None
    sent_at: float | None = None  # a message's Telegram date (epoch seconds): flood control


class RawUpdate:
    """One update as the Bot API's JSON (a dict), with its id at hand."""

    __slots__ = ("data", "update_id")

    def __init__(self, data: dict[str, Any]) -> None:
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ValueError("not an update")
        self.data = data
        self.update_id = update_id

    def __repr__(self) -> str:
        return f"RawUpdate({self.update_id})"


def raw_updates(result: Any) -> list[RawUpdate]:
    """getUpdates' result (a JSON list) as `RawUpdate`s; anything else is a bad answer."""
    if not isinstance(result, list):
        raise ValueError("getUpdates did not answer with a list")
    return [RawUpdate(item) for item in result]


def poll_payload(offset: int | None, wait: int, limit: int) -> dict[str, Any]:
    """getUpdates' parameters, the same for both runtimes."""
    payload: dict[str, Any] = {"timeout": wait, "limit": limit, "allowed_updates": ALLOWED_UPDATES}
    if offset is not None:
        payload["offset"] = offset
    return payload


def polled(result: Any) -> list[RawUpdate]:
    """getUpdates' answer as updates; one that is not what the Bot API answers is treated
    as an undecodable answer (retried like a server error)."""
    try:
        return raw_updates(result)
    except ValueError as exc:
        raise ApiError(ApiErrorKind.SERVER, "undecodable answer") from exc


def _epoch(date: Any) -> float | None:
    """Telegram's `date` as the libraries give it (a datetime, or seconds)."""
    if date is None:
        return None
    if isinstance(date, datetime):
        return date.timestamp()
    try:
        return float(date)
    except (TypeError, ValueError):
        return None


def _reply_to(message: Any, bot_id: int) -> ReplyTo | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    author = replied.from_user
    return ReplyTo(
        replied.message_id,
        replied.text or replied.caption or "",
        from_bot=author is not None and author.id == bot_id,
    )


def message_event(message: Any, update_id: int, bot_id: int) -> Event | None:
    author = message.from_user
    if author is None or author.is_bot:
        return None
    sender = Sender(author.id, message.chat.id, author.language_code, str(message.chat.type))
    if message.text is not None:
        reply_to = _reply_to(message, bot_id)
        command = parse_command(message.text)
        if command is not None:
            return Event(sender, Command(command.name, command.args, reply_to), update_id)
        return Event(sender, Text(message.text, reply_to), update_id)
    kind = next((k for k in MEDIA_KINDS if getattr(message, k, None)), None)
    return Event(sender, Media(kind), update_id) if kind else None


def _json_message_event(message: dict[str, Any], update_id: int, bot_id: int) -> Event | None:
    author = message.get("from")
    if author is None or author.get("is_bot"):
        return None
    chat = message["chat"]
    sender = Sender(author["id"], chat["id"], author.get("language_code"), str(chat["type"]))
    text = message.get("text")
    if text is not None:
        reply_to = None
        replied = message.get("reply_to_message")
        if replied is not None:
            replied_author = replied.get("from")
            reply_to = ReplyTo(
                replied["message_id"],
                replied.get("text") or replied.get("caption") or "",
                from_bot=replied_author is not None and replied_author["id"] == bot_id,
            )
        command = parse_command(text)
        if command is not None:
            return Event(sender, Command(command.name, command.args, reply_to), update_id)
        return Event(sender, Text(text, reply_to), update_id)
    kind = next((k for k in MEDIA_KINDS if message.get(k)), None)
    return Event(sender, Media(kind), update_id) if kind else None


def _json_incoming(data: dict[str, Any], update_id: int, bot_id: int) -> Incoming:
    message = data.get("message")
    if message is not None:
        return Incoming(
            update_id,
            _json_message_event(message, update_id, bot_id),
            sent_at=_epoch(message.get("date")),
        )
    query = data.get("callback_query")
    if query is None:
        return Incoming(update_id, None)
    if query.get("data") is None:
        return Incoming(update_id, None, query["id"])
    author = query["from"]
    shown = query.get("message")
    chat = shown["chat"] if shown is not None else None
    sender = Sender(
        author["id"],
        chat["id"] if chat else author["id"],
        author.get("language_code"),
        str(chat["type"]) if chat else "private",
    )
    message_id = shown["message_id"] if shown is not None else None
    return Incoming(
        update_id,
        Event(sender, Button(str(query["data"]), message_id), update_id),
        query["id"],
    )


def incoming(update: Any, bot_id: int) -> Incoming:
    """An update as the engine's Event (plus the callback id to answer): a `RawUpdate`,
    or a library's Update object. An update not shaped as the Bot API's (a field missing)
    is nothing for the engine, as an unsupported kind of update is."""
    if isinstance(update, RawUpdate):
        try:
            return _json_incoming(update.data, update.update_id, bot_id)
        except (KeyError, TypeError, AttributeError, ValueError):
            log.warning("update %s is not shaped as the Bot API's; ignored", update.update_id)
            return Incoming(update.update_id, None)
    if update.message is not None:
        message = update.message
        return Incoming(
            update.update_id,
            message_event(message, update.update_id, bot_id),
            sent_at=_epoch(getattr(message, "date", None)),
        )
    query = update.callback_query
    if query is None:
        return Incoming(update.update_id, None)
    if query.data is None:
        return Incoming(update.update_id, None, query.id)
    chat = query.message.chat if query.message is not None else None
    sender = Sender(
        query.from_user.id,
        chat.id if chat else query.from_user.id,
        query.from_user.language_code,
        str(chat.type) if chat else "private",
    )
    message_id = query.message.message_id if query.message is not None else None
    return Incoming(
        update.update_id,
        Event(sender, Button(str(query.data), message_id), update.update_id),
        query.id,
    )
