"""Per person order across webhook replicas when Telegram delivers an update again.

Telegram delivers one chat's updates one at a time: the next only after the webhook
answered the previous one with 2xx (or Telegram gave up on it). A replica answers after
the update's writes are committed *and* its replies are sent, so that order carries over
to what the person sees. One case breaks it: a delivery outlives Telegram's timeout while
its replica (A) still works on it. Telegram delivers the update again, to replica B; B
finds it handled (`processed_updates`, committed by A) and would answer 2xx at once,
while A is still sending its replies; Telegram then delivers the person's next update to
replica C, whose replies can overtake A's.

`EarlierReplies.wait(chat_id)` closes that gap. The door calls it when the engine gave an
update in a private chat nothing to send (a redelivery; rarely anything else, for which
the check finds nothing and costs one indexed query): the 2xx waits until the chat has no
reply in the outbox still pending or in flight, for `WAIT` seconds at most. If replies
are still on their way then, `RepliesOnTheirWay` makes the webhook answer 503 with
Retry-After: Telegram tries again later and holds the person's next update back.

Replies that a killed replica left pending are sent by the leader's outbox loop (it
leaves untried rows alone for their first 30 s, while their own replica may still be
sending them); the redelivery is confirmed after that. Nothing here sends: a second
sender beside a live but slow one (the shared send budget can hold replies back for
seconds) would itself break the order. A row "sending" for longer than `IN_FLIGHT`
belongs to a process that died mid-request: it does not hold the chat up (the leader
marks it "unknown").
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import select

from bot.adapters.telegram.outbox import OutboxSender
from dialogs.store.db import Database, StoreUnavailable, is_connection_error
from dialogs.store.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

WAIT = 5.0  # seconds a redelivery waits for the earlier replies before answering 503
# a row "sending" longer than this was most likely lost in a crash (a Bot API call takes
# well under a second; a file upload may take longer, and is then not waited for)
IN_FLIGHT = timedelta(seconds=10)
POLL = 0.1


class RepliesOnTheirWay(StoreUnavailable):
    """The chat's earlier replies are not out yet: do not confirm this update (503)."""


class EarlierReplies:
    def __init__(self, db: Database, outbox: OutboxSender) -> None:
        self.db = db
        self.outbox = outbox
        self.waited = 0  # updates whose 2xx waited for earlier replies (for tests, logs)

    async def _open(self, chat_id: int) -> list[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.kind == "reply",
                OutboxMessage.status.in_(("pending", "sending")),
            )
            .order_by(OutboxMessage.id)
        )
        try:
            async with self.db.unit() as repo:
                rows = list((await repo.session.execute(query)).scalars())
        except Exception as exc:
            if is_connection_error(exc):  # the webhook answers 503: Telegram comes again
                raise StoreUnavailable(type(exc).__name__) from exc
            raise
        lost = utcnow() - IN_FLIGHT
        return [r for r in rows if not (r.status == "sending" and r.updated_at < lost)]

    async def wait(self, chat_id: int) -> None:
        """Return once no reply to `chat_id` is pending or in flight; raise
        `RepliesOnTheirWay` after `WAIT` seconds."""
        deadline = time.monotonic() + WAIT
        rows = await self._open(chat_id)
        if not rows:
            return
        self.waited += 1
        while rows:
            if time.monotonic() > deadline:
                log.info("chat %s: earlier replies still on their way; not confirmed", chat_id)
                raise RepliesOnTheirWay("earlier replies on their way")
            await asyncio.sleep(POLL)
            rows = await self._open(chat_id)
