"""Events: what reaches the engine, as plain frozen data.

An adapter (aiogram, python-telegram-bot, the console) turns whatever it received into one
`Event`. Nothing here knows about Telegram types; ids are plain integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_TEXT = 4096  # Telegram's own limit for one message; longer input is refused politely


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent the update and where. In a private chat `chat_id == user_id`."""

    user_id: int
    chat_id: int
    language_code: str | None = None
    chat_type: str = "private"  # private | group | supergroup | channel

    @property
    def is_private(self) -> bool:
        return self.chat_type == "private"


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """The bot message a user replied to (used by staff to answer a ticket)."""

    message_id: int
    text: str
    from_bot: bool = True


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    reply_to: ReplyTo | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """`/name args`; the name is lower-cased and stripped of any `@botname` suffix."""

    name: str
    args: str = ""
    reply_to: ReplyTo | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A press of an inline button; `message_id` is the message that carried it."""

    payload: str
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """Anything that is not text: photo, sticker, voice, video, document, location…"""

    kind: str


Body = Text | Command | Button | Media


@dataclass(frozen=True, slots=True)
class Event:
    sender: Sender
    body: Body
    update_id: int | None = None  # None when the door has no update ids (the console)

    @property
    def user_id(self) -> int:
        return self.sender.user_id

    @property
    def chat_id(self) -> int:
        return self.sender.chat_id


def parse_command(text: str) -> Command | None:
    """`/Start@KiertoBot  abc` -> Command("start", "abc"); None when `text` is not a command."""
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return Command(name=name, args=args.strip())


# C0 and C1 control characters except tab and newline, lone surrogates (invalid UTF-8 that
# PostgreSQL refuses), and the byte-order mark: invisible, and NUL in particular cannot be
# stored in PostgreSQL text at all.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")


def clean_text(text: str) -> str:
    """Text from outside with the control characters removed (CR becomes a newline)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def clean_event(event: Event) -> Event:
    """The event with every text in it cleaned (`clean_text`); the same object when
    nothing needed cleaning, which is almost always."""
    body = event.body
    reply_to = getattr(body, "reply_to", None)
    if reply_to is not None and _dirty(reply_to.text):
        reply_to = replace(reply_to, text=clean_text(reply_to.text))
    if isinstance(body, Text) and (_dirty(body.text) or reply_to is not body.reply_to):
        return replace(event, body=Text(clean_text(body.text), reply_to))
    if isinstance(body, Command) and (_dirty(body.args) or reply_to is not body.reply_to):
        return replace(event, body=Command(body.name, clean_text(body.args), reply_to))
    if isinstance(body, Button) and _dirty(body.payload):
        return replace(event, body=Button(clean_text(body.payload), body.message_id))
    return event


def _dirty(text: str) -> bool:
    return "\r" in text or _CONTROL.search(text) is not None
