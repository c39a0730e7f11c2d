"""Send what the outbox holds: replies written in the back office, from the one process
that talks to Telegram. A message is marked sent after Telegram took it; a failure is
counted and retried a few times, then left for a person to see in the tables."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dialogs.store.db import Database

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


async def deliver_once(db: Database, send: Callable[[int, str], Awaitable[None]]) -> int:
    async with db.unit() as repo:
        pending = [(m.id, m.chat_id, m.text) for m in await repo.outbox.pending()]
    sent = 0
    for message_id, chat_id, text in pending:
        try:
            await send(chat_id, text)
            ok = True
        except Exception as exc:  # the type only: the text is personal
            log.warning("outbox message %s not sent: %s", message_id, type(exc).__name__)
            ok = False
        async with db.unit() as repo:
            await repo.outbox.done(message_id, ok)
        sent += ok
    return sent


async def deliver_forever(
    db: Database, send: Callable[[int, str], Awaitable[None]], stopping: asyncio.Event
) -> None:
    while not stopping.is_set():
        try:
            await deliver_once(db, send)
        except Exception:
            log.exception("outbox delivery failed; trying again")
        try:
            await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
        except TimeoutError:
            pass
