"""Long polling with each user's updates in order.

An update is confirmed (the next getUpdates offset) only after its writes have been
committed, so a crash or restart loses no update (at worst a reply not yet sent);
redeliveries are skipped by the engine. Replies are sent, and slow ones (charts, PDFs)
rendered, while the next batch is fetched, so one slow reply does not hold up everyone
else. The updates of one user are handled strictly one after the other (the next starts
when the previous one's replies are out), different users concurrently. Polling survives
an API outage; when `stopping` is set the updates in hand are finished first, for at most
`grace` seconds (their replies wait in the outbox for the next start).

The database being unreachable is not the update's fault: an update that met the outage
(`StoreUnavailable`) is not confirmed, nor are the ones after it (the later ones of the same
user are not even started, to keep their order). Polling pauses, probing the database after
1, 2, 4… seconds (up to `retry_max`), and resumes from the first such update; updates of the
batch that were committed come back too and are skipped as seen before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.adapters.telegram.errors import ApiError
from bot.adapters.telegram.progress import Progress
from bot.adapters.telegram.transport import Transport
from bot.adapters.telegram.updates import Incoming
from dialogs.store.db import StoreUnavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits for news
MAX_IN_HAND = 1000  # updates being finished before polling waits for some to end

Handle = Callable[[Any, Incoming, Callable[[], None]], Awaitable[None]]


class Poller:
    def __init__(
        self,
        transport: Transport,
        handle: Handle,
        progress: Progress,
        stopping: asyncio.Event,
        *,
        database_back: Callable[[], Awaitable[bool]] | None = None,
        grace: float = 8.0,
        retry_max: float = 30.0,
    ) -> None:
        self.transport = transport
        self.database_back = database_back
        self.grace = grace
        self.retry_max = retry_max
        self.handle = handle  # handles one update completely, never raises
        self.progress = progress
        self.stopping = stopping
        self.finishing: set[asyncio.Task[bool]] = set()  # polled updates still in hand
        self._last_of_user: dict[int, asyncio.Task[bool]] = {}

    async def run(self) -> None:
        """Long polling until `stopping` is set; an update's offset is confirmed only after
        the update (and the whole batch it came in) has been handled."""
        offset: int | None = None
        delay = 1.0
        while not self.stopping.is_set():
            while len(self.finishing) >= MAX_IN_HAND:  # sending is stuck (say, 429s)
                await asyncio.wait(self.finishing, return_when=asyncio.FIRST_COMPLETED)
            fetch = asyncio.ensure_future(self.transport.get_updates(offset, POLL_TIMEOUT))
            stop = asyncio.ensure_future(self.stopping.wait())
            done, _ = await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if fetch not in done:
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, ApiError):
                    await fetch
                break
            try:
                updates = fetch.result()
            except ApiError as exc:
                wait = exc.retry_after or delay
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc.kind, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), wait)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if updates:
                unavailable = await self.handle_batch(updates)
                if unavailable:
                    offset = min(unavailable)  # these (and what follows) come again
                    await self.pause(offset)
                else:
                    offset = max(u.update_id for u in updates) + 1
        if self.finishing:  # SIGTERM: finish the updates in hand, for a while
            _, late = await asyncio.wait(self.finishing, timeout=self.grace or None)
            if late:
                log.warning(
                    "%d updates still sending after %.0f s; their replies wait in the outbox "
                    "for the next start",
                    len(late),
                    self.grace,
                )
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
        if offset is not None:  # confirm the last batch so a restart does not fetch it again
            with contextlib.suppress(ApiError):
                await self.transport.get_updates(offset, 0, limit=1)

    async def pause(self, offset: int) -> None:
        """The database is unreachable: wait until it answers again (or SIGTERM)."""
        log.warning(
            "database unreachable: polling paused; updates from %s on will be handled when "
            "it is back",
            offset,
        )
        delay = 1.0
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.database_back is None or await self.database_back():
                log.warning("the database answers again: polling resumes at update %s", offset)
                return
            delay = min(delay * 2, self.retry_max)

    async def handle_batch(self, updates: Sequence[Any]) -> list[int]:
        """Start every update of a polled batch and return when each one's writes are
        committed, with the ids of the updates that met a database outage (not done).
        Their replies may still be on the way (tracked in `finishing`); that is
        safe to confirm, because a redelivered update whose writes were committed is skipped
        by the engine and would not be answered again either way."""
        committed: list[asyncio.Event] = []
        unavailable: list[int] = []
        for update in updates:
            parsed = self.transport.incoming(update)
            self.progress.took(parsed.update_id)
            user = parsed.event.user_id if parsed.event else 0
            done = asyncio.Event()
            committed.append(done)
            task = asyncio.create_task(
                self._in_turn(self._last_of_user.get(user), update, parsed, done, unavailable)
            )
            self._last_of_user[user] = task
            self.finishing.add(task)
            task.add_done_callback(lambda t, u=user: self._finished(t, u))
        await asyncio.gather(*(done.wait() for done in committed))
        return unavailable

    async def _in_turn(
        self,
        previous: asyncio.Task[bool] | None,
        update: Any,
        parsed: Incoming,
        committed: asyncio.Event,
        unavailable: list[int],
    ) -> bool:
        """Handle one update after the same user's previous one; False if the database
        was unreachable (then it is left for the redelivery)."""
        try:
            if previous is not None:
                await asyncio.wait({previous})  # the same user's earlier update first
                if not previous.cancelled() and previous.result() is False:
                    unavailable.append(parsed.update_id)  # keep the user's order
                    return False
            try:
                await self.handle(update, parsed, committed.set)
            except StoreUnavailable:
                unavailable.append(parsed.update_id)
                return False
            return True
        finally:
            committed.set()

    def _finished(self, task: asyncio.Task[bool], user: int) -> None:
        self.finishing.discard(task)
        if self._last_of_user.get(user) is task:
            del self._last_of_user[user]
        self.progress.done()
