"""What a Telegram library must provide to the door (aiogram_runtime, ptb_runtime).

A runtime turns its library's Bot API client and update types into these few neutral
calls; its failures arrive as `ApiError`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.adapters.telegram.updates import Incoming
from dialogs.actions import Keyboard


def markup_json(keyboard: Keyboard) -> dict[str, Any]:
    """An inline keyboard as the Bot API's JSON (what `reply_markup` is on the wire)."""
    return {
        "inline_keyboard": [
            [
                {"text": b.label, "callback_data": b.payload}
                if b.payload is not None
                else {"text": b.label, "url": b.url}
                for b in row
            ]
            for row in keyboard
        ]
    }


class Transport(Protocol):
    name: str
    bot_id: int
    username: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def get_updates(
        self, offset: int | None, wait: int, limit: int = 100
    ) -> Sequence[Any]: ...
    def parse_update(self, data: dict[str, Any]) -> Any: ...
    def incoming(self, update: Any) -> Incoming: ...
    async def send_text(
        self, chat_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> int: ...
    async def edit_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> None: ...
    async def send_file(
        self, chat_id: int, kind: str, data: bytes, filename: str, caption: str
    ) -> int: ...
    async def answer_callback(self, callback_id: str, text: str, alert: bool) -> None: ...
    async def set_commands(
        self, commands: list[tuple[str, str]], chat_id: int | None, language: str | None
    ) -> None: ...
    async def delete_webhook(self) -> None: ...
    async def set_webhook(self, url: str, secret: str) -> None: ...
