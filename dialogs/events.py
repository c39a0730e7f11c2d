"""Events: what reaches the engine, as plain frozen data.

An adapter (aiogram, python-telegram-bot, the console) turns whatever it received into one
`Event`. Nothing here knows about Telegram types; ids are plain integers.
"""

from __future__ import annotations

from dataclasses import dataclass

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
