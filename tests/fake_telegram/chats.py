"""Chats and the messages they show, as Telegram's JSON."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fake_telegram.records import CallbackAnswer
from tests.fake_telegram.signals import _Signal

if TYPE_CHECKING:
    from tests.fake_telegram.users import FakeUser


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
