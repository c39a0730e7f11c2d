"""Bot API calls with Telegram's rules for failures, and the door's actions as calls.

- 429 waits `retry_after`; 5xx and network errors are retried with backoff;
- 403 marks the user blocked and nothing more is sent to them;
- "message is not modified" counts as success; an edit of a message that is gone or too
  old becomes a new message; HTML Telegram refuses is sent again as plain text;
- Telegram's limits are applied to each message (split long texts and captions, wrap
  keyboard rows) and the send rate is kept under Telegram's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.adapters.render import CAPTION_LIMIT, plain, split_html, visible_length, wrap_rows
from bot.adapters.telegram.errors import ApiError, ApiErrorKind
from bot.adapters.telegram.transport import Transport
from bot.throttle import SendRate
from dialogs.actions import Edit, Keyboard, SendFile
from dialogs.store.db import Database

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF = (ApiErrorKind.SERVER, ApiErrorKind.NETWORK)
T = TypeVar("T")


class Sender:
    def __init__(self, transport: Transport, send_rate: SendRate, db: Database) -> None:
        self.transport = transport
        self.send_rate = send_rate
        self.db = db

    async def call(
        self, what: Callable[[], Awaitable[T]], chat_id: int | None = None, limited: bool = True
    ) -> T | None:
        """Call the Bot API with Telegram's rules for failures (see the module docstring).
        Returns None when the call is given up or needs no answer (blocked, not modified);
        raises the ApiErrors that retrying cannot cure."""
        for attempt in range(MAX_ATTEMPTS):
            if limited:
                await self.send_rate.acquire()
            try:
                return await what()
            except ApiError as exc:
                if exc.kind is ApiErrorKind.RETRY:
                    delay = exc.retry_after or 1.0
                    log.warning("Telegram asked to wait %.1f s (429)", delay)
                elif exc.kind in BACKOFF:
                    delay = min(0.5 * 2**attempt, 8.0)
                    log.warning("Telegram API %s error; retrying in %.1f s", exc.kind, delay)
                elif exc.kind is ApiErrorKind.BLOCKED:
                    if chat_id is not None:
                        await self.mark_blocked(chat_id)
                    return None
                elif exc.kind is ApiErrorKind.NOT_MODIFIED:
                    return None  # the message already shows this: success
                else:
                    raise
                await asyncio.sleep(delay)
        log.error("Telegram API call failed %d times; giving up", MAX_ATTEMPTS)
        return None

    async def mark_blocked(self, chat_id: int) -> None:
        if chat_id < 0:
            log.error("the bot cannot post to group %s (removed or muted?)", chat_id)
            return
        log.info("user %s has blocked the bot; not sending to them any more", chat_id)
        async with self.db.unit() as repo:
            await repo.users.set_blocked(chat_id)

    async def is_blocked(self, chat_id: int) -> bool:
        if chat_id < 0:
            return False
        async with self.db.unit() as repo:
            user = await repo.users.get(chat_id)
            return bool(user and user.blocked)

    async def send_text(self, chat_id: int, text: str, keyboard: Keyboard) -> None:
        keyboard = wrap_rows(keyboard)
        parts = split_html(text)
        for index, part in enumerate(parts):
            markup = keyboard if index == len(parts) - 1 else ()
            try:
                await self.call(
                    lambda p=part, m=markup: self.transport.send_text(chat_id, p, m), chat_id
                )
            except ApiError as exc:
                if exc.kind is not ApiErrorKind.BAD:
                    raise
                # Telegram refused our HTML: never lose the message, send it plain
                log.error(
                    "Telegram refused a message (%s); sending it as plain text", exc.description
                )
                await self.call(
                    lambda p=part, m=markup: self.transport.send_text(
                        chat_id, plain(p), m, html=False
                    ),
                    chat_id,
                )

    async def edit(self, action: Edit) -> None:
        if len(split_html(action.text)) > 1:
            await self.send_text(action.chat_id, action.text, action.keyboard)
            return
        try:
            await self.call(
                lambda: self.transport.edit_text(
                    action.chat_id, action.message_id, action.text, wrap_rows(action.keyboard)
                ),
                action.chat_id,
            )
        except ApiError as exc:
            if exc.kind not in (ApiErrorKind.NOT_FOUND, ApiErrorKind.BAD):
                raise
            # too old to edit, or gone: show the new state as a new message instead
            await self.send_text(action.chat_id, action.text, action.keyboard)

    async def send_file(self, action: SendFile) -> None:
        caption, rest = action.caption, ""
        if visible_length(caption) > CAPTION_LIMIT:
            pieces = split_html(caption, CAPTION_LIMIT)
            caption, rest = pieces[0], "\n\n".join(pieces[1:])
        await self.call(
            lambda: self.transport.send_file(
                action.chat_id, action.kind, action.data, action.filename, caption
            ),
            action.chat_id,
        )
        if rest:
            await self.send_text(action.chat_id, rest, ())

    async def answer(self, callback_id: str, text: str, alert: bool) -> None:
        """Answer a button press (Telegram shows a spinner until it is answered)."""
        try:
            await self.call(
                lambda: self.transport.answer_callback(callback_id, text[:200], alert),
                limited=False,
            )
        except ApiError as exc:  # a press too old to answer: nothing to do
            log.info("could not answer a button press: %s", exc.description)
