"""Bot API calls with Telegram's rules for failures, and the door's actions as calls.

- 429 pauses all sending (the shared send budget) for `retry_after`; 5xx and network
  errors are retried with backoff;
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
TOAST_TIMEOUT = 3.0  # seconds for answerCallbackQuery, which is best effort
BACKOFF = (ApiErrorKind.SERVER, ApiErrorKind.NETWORK)
T = TypeVar("T")


class Sender:
    def __init__(self, transport: Transport, send_rate: SendRate, db: Database) -> None:
        self.transport = transport
        self.send_rate = send_rate
        self.db = db

    async def call(
        self,
        what: Callable[[], Awaitable[T]],
        chat_id: int | None = None,
        limited: bool = True,
        *,
        once: bool = False,
    ) -> T | None:
        """Call the Bot API with Telegram's rules for failures (see the module docstring).
        Returns None when the call is given up or needs no answer (blocked, not modified);
        raises the ApiErrors that retrying cannot cure.

        `once` (the outbox's sends): one attempt, and every failure but "not modified" is
        raised (a block after marking the user), so the outbox row can say what happened
        and the retry waits in the outbox rather than in a process that may die."""
        for attempt in range(1 if once else MAX_ATTEMPTS):
            if limited:
                await self.send_rate.acquire()
            await self.send_rate.hold()  # a 429 seen since the token was taken
            try:
                return await what()
            except ApiError as exc:
                if exc.kind is ApiErrorKind.RETRY:
                    # Telegram's flood wait is for the bot, not for this chat: nobody sends
                    await self.send_rate.pause(exc.retry_after or 1.0)
                if once and exc.kind is not ApiErrorKind.NOT_MODIFIED:
                    if exc.kind is ApiErrorKind.BLOCKED and chat_id is not None:
                        await self.mark_blocked(chat_id)
                    raise
                if exc.kind is ApiErrorKind.RETRY:
                    delay = exc.retry_after or 1.0  # the budget is paused as long
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

    async def send_text(
        self, chat_id: int, text: str, keyboard: Keyboard, *, once: bool = False
    ) -> int | None:
        """Send a text (split at Telegram's limit); the id of its last message. With
        `once`, the first part is one attempt (see `call`); later parts are retried as
        usual, since sending the row again would repeat the parts already out."""
        keyboard = wrap_rows(keyboard)
        parts = split_html(text)
        message_id: int | None = None
        for index, part in enumerate(parts):
            markup = keyboard if index == len(parts) - 1 else ()
            first = once and index == 0
            try:
                message_id = await self.call(
                    lambda p=part, m=markup: self.transport.send_text(chat_id, p, m),
                    chat_id,
                    limited=not first,
                    once=first,
                )
            except ApiError as exc:
                if exc.kind is not ApiErrorKind.BAD:
                    raise
                # Telegram refused our HTML: never lose the message, send it plain
                log.error(
                    "Telegram refused a message (%s); sending it as plain text", exc.description
                )
                message_id = await self.call(
                    lambda p=part, m=markup: self.transport.send_text(
                        chat_id, plain(p), m, html=False
                    ),
                    chat_id,
                    limited=not first,
                    once=first,
                )
        return message_id

    async def edit(self, action: Edit, *, once: bool = False) -> int | None:
        if len(split_html(action.text)) > 1:
            return await self.send_text(action.chat_id, action.text, action.keyboard, once=once)
        try:
            await self.call(
                lambda: self.transport.edit_text(
                    action.chat_id, action.message_id, action.text, wrap_rows(action.keyboard)
                ),
                action.chat_id,
                limited=not once,
                once=once,
            )
            return action.message_id
        except ApiError as exc:
            if exc.kind not in (ApiErrorKind.NOT_FOUND, ApiErrorKind.BAD):
                raise
            # too old to edit, or gone: show the new state as a new message instead
            return await self.send_text(action.chat_id, action.text, action.keyboard, once=once)

    async def send_file(self, action: SendFile, *, once: bool = False) -> int | None:
        caption, rest = action.caption, ""
        if visible_length(caption) > CAPTION_LIMIT:
            pieces = split_html(caption, CAPTION_LIMIT)
            caption, rest = pieces[0], "\n\n".join(pieces[1:])
        message_id = await self.call(
            lambda: self.transport.send_file(
                action.chat_id, action.kind, action.data, action.filename, caption
            ),
            action.chat_id,
            limited=not once,
            once=once,
        )
        if rest:
            await self.send_text(action.chat_id, rest, ())
        return message_id

    async def answer(self, callback_id: str, text: str, alert: bool) -> None:
        """Answer a button press (Telegram shows a spinner until it is answered). Best
        effort: one attempt, at most `TOAST_TIMEOUT` seconds, never retried, so a failing
        answerCallbackQuery can never hold back the reply itself."""
        try:
            async with asyncio.timeout(TOAST_TIMEOUT):
                await self.transport.answer_callback(callback_id, text[:200], alert)
        except (ApiError, TimeoutError) as exc:  # too old to answer, or Telegram is slow
            log.info("could not answer a button press: %s", type(exc).__name__)
