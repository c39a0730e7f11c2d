"""The users a test plays: sending, pressing buttons and waiting for the bot."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fake_telegram.chats import ChatMessage, FakeChat
from tests.fake_telegram.errors import ButtonNotFound
from tests.fake_telegram.html_entities import _command_entities
from tests.fake_telegram.png import tiny_png
from tests.fake_telegram.signals import _wait_on

if TYPE_CHECKING:
    from tests.fake_telegram.server import FakeTelegram


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
