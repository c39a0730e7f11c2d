"""Telegram updates as the engine's events.

aiogram's and python-telegram-bot's update objects use the Bot API's own field names, so
one translation serves both runtimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialogs.events import Button, Command, Event, Media, ReplyTo, Sender, Text, parse_command

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


def incoming(update: Any, bot_id: int) -> Incoming:
    """A library's Update as the engine's Event (plus the callback id to answer)."""
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
