"""How many outbox rows the door has "sending" at once (bot/adapters/telegram/outbox.py).

A new message in flight when the process is killed is never sent again (the Bot API has
no idempotency key), so at most IN_FLIGHT of them are in flight at a time. An edit in
flight at a kill is sent again at the next start, so edits have a wider allowance of their
own (EDITS_IN_FLIGHT): a slow Bot API does not make every answered question wait behind
sixteen others. Measured here with a sender that holds every request until released."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from bot.adapters.telegram.outbox import EDITS_IN_FLIGHT, IN_FLIGHT, OutboxSender
from dialogs.actions import Edit, Send
from dialogs.store.db import Database
from dialogs.store.outbox import encode


class _Rate:
    async def acquire(self, priority: int = 0) -> None:
        return None


class HeldSender:
    """Takes requests and answers none until `release` is set; counts them per kind."""

    def __init__(self) -> None:
        self.send_rate = _Rate()
        self.release = asyncio.Event()
        self.now = {"send": 0, "edit": 0}
        self.most = {"send": 0, "edit": 0}

    async def _held(self, kind: str) -> int:
        self.now[kind] += 1
        self.most[kind] = max(self.most[kind], self.now[kind])
        try:
            await self.release.wait()
        finally:
            self.now[kind] -= 1
        return 1

    async def send_text(self, *_args: Any, **_kw: Any) -> int:
        return await self._held("send")

    async def edit(self, *_args: Any, **_kw: Any) -> int:
        return await self._held("edit")


async def test_new_messages_in_flight_are_bounded_and_edits_have_their_own_allowance(
    any_db: Database,
) -> None:
    rows: list[Send | Edit] = []
    async with any_db.unit() as repo:
        for n in range(IN_FLIGHT + 8):
            send = Send(1000 + n, f"viesti {n}")
            rows.append(replace(send, outbox_id=await repo.outbox.add(1000 + n, encode(send))))
            edit = Edit(2000 + n, 7, f"muokattu {n}")
            rows.append(replace(edit, outbox_id=await repo.outbox.add(2000 + n, encode(edit))))
    sender = HeldSender()
    outbox = OutboxSender(sender, any_db, asyncio.Event())  # type: ignore[arg-type]
    deliveries = [asyncio.create_task(outbox.deliver(row)) for row in rows]
    try:
        for _ in range(200):  # until every request that may start has started
            if sender.now == {"send": IN_FLIGHT, "edit": IN_FLIGHT + 8}:
                break
            await asyncio.sleep(0.02)
        assert sender.now == {"send": IN_FLIGHT, "edit": IN_FLIGHT + 8}
        assert IN_FLIGHT + 8 <= EDITS_IN_FLIGHT
        async with any_db.unit() as repo:
            assert (await repo.outbox.counts())["sending"] == 2 * IN_FLIGHT + 8
    finally:
        sender.release.set()
        await asyncio.wait_for(asyncio.gather(*deliveries), 20)
    assert sender.most == {"send": IN_FLIGHT, "edit": IN_FLIGHT + 8}
    async with any_db.unit() as repo:
        assert await repo.outbox.counts() == {"sent": 2 * (IN_FLIGHT + 8)}
