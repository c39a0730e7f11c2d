"""The door's own count of its work: updates taken in, and updates finished.

An update is finished when it has been handled and its replies are sent (or given up
on). `settled()` is how a caller (a test, a shutdown) learns that the updates in hand
are done without guessing from silence on the wire.
"""

from __future__ import annotations

import asyncio


class Progress:
    def __init__(self) -> None:
        self.received = 0  # updates taken in (polled or posted to the webhook)
        self.finished = 0  # of those, handled with their replies sent
        self.last_update_id: int | None = None  # the highest update_id taken in
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def in_hand(self) -> int:
        return self.received - self.finished

    def took(self, update_id: int) -> None:
        self.received += 1
        if self.last_update_id is None or update_id > self.last_update_id:
            self.last_update_id = update_id

    def done(self) -> None:
        self.finished += 1
        if self.in_hand == 0:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()

    def is_settled(self, through: int | None = None) -> bool:
        """Nothing in hand and (with `through`) every update up to that update_id taken
        in. Telegram hands out updates in update_id order, so having taken in `through`
        means having taken in the ones before it."""
        if self.in_hand:
            return False
        return through is None or (self.last_update_id or 0) >= through

    async def settled(self, through: int | None = None) -> None:
        """Return once `is_settled(through)`; wrap in `asyncio.timeout` to bound it."""
        loop = asyncio.get_running_loop()
        while not self.is_settled(through):
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            await waiter
