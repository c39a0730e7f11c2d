"""The door's half of the outbox (`dialogs.store.outbox`): send a row, mark what happened.

- `deliver(action)` sends one queued message: wait for the send budget, claim the row
  (pending -> sending), make one Bot API attempt, then mark it sent (with Telegram's
  message id), blocked, failed, or pending again with a later due time. The row is
  "sending" only while its request is in flight, so a kill loses at most the messages in
  flight at that moment; those are found "sending" at the next start, marked "unknown"
  and logged, never sent twice.
- `run()` is the loop: at start it recovers the rows of a process that died (pending ones
  are sent, sending ones become unknown); then, every second, it sends what is due and
  was not sent at once (retries after a Bot API outage, rows whose process died, and in
  time the haastepaja broadcasts), replies first, each chat's rows in order.

A database outage while a row is marked keeps the mark in memory until it can be written.

Claims and "sent" marks are group-committed (`Ledger`): every delivery that needs one
while a ledger transaction is being written waits for the next, and that one writes them
all (one `UPDATE … RETURNING` for the claims, one statement run for the marks) and commits
once. A lone delivery still costs one transaction for its claim and one for its mark;
under load, one transaction serves many. Each caller still waits for its own claim or
mark to be committed, so nothing about a row changes: a row is claimed (committed) before
its send starts, and its delivery ends only once it is marked sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.telegram.errors import ApiError, ApiErrorKind
from bot.adapters.telegram.sender import Sender
from dialogs.actions import Edit, Send, SendFile
from dialogs.store.db import Database, StoreUnavailable, is_connection_error
from dialogs.store.models import utcnow
from dialogs.store.outbox import claim_rows, decode, mark_sent

log = logging.getLogger(__name__)

TEMPORARY = (ApiErrorKind.RETRY, ApiErrorKind.SERVER, ApiErrorKind.NETWORK)
INLINE_ATTEMPTS = 6  # tries in the fast path before the loop takes over
MAX_ATTEMPTS = 30  # then a row is failed (about an hour of a Bot API outage)
FRESH = timedelta(seconds=30)  # untried rows this young belong to the fast path
CHATS_AT_ONCE = 20
# New messages in flight at once: each is a message that a kill -9 at that instant leaves
# "unknown" (perhaps lost); 16 still allow ~100 messages/s at 150 ms a request, well over
# Telegram's ~30/s.
IN_FLIGHT = 16
# Edits in flight at once: an edit a kill leaves "sending" is sent again at the next start
# (`Outbox.recover`: showing an edit twice shows nothing twice), so they need no such tight
# bound. Every kartoitus answer is an edit of the question, so under load most rows are.
EDITS_IN_FLIGHT = 64
# A reply whose claim met a database outage waits this long for the database in the fast
# path (in order); after that the loop sends it once it is FRESH no more.
DATABASE_PATIENCE = 20.0
DATABASE_DOWN = object()  # `_attempt`'s answer when the claim could not reach the database

Outbound = Send | Edit | SendFile


class Ledger:
    """Claims and "sent" marks of many deliveries, written together (group commit)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._claims: list[tuple[int, asyncio.Future[bool], list[datetime]]] = []
        self._sent: list[tuple[int, int | None, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def claim(self, row: int, stamp: list[datetime]) -> bool:
        """pending -> sending, committed; False if another sender took the row (or it is
        finished). Raises what the database raised (an outage: `is_connection_error`).
        The time the claim is stamped with (`updated_at`) is appended to `stamp` before
        the statement runs, so a claim whose commit was not confirmed can be undone."""
        future = asyncio.get_running_loop().create_future()
        self._claims.append((row, future, stamp))
        self._start()
        return await future

    async def sent(self, row: int, message_id: int | None) -> bool:
        """Mark the row sent, committed; False when the database is unreachable."""
        future = asyncio.get_running_loop().create_future()
        self._sent.append((row, message_id, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._claims or self._sent:
            claims, self._claims = self._claims, []
            sent, self._sent = self._sent, []
            now = utcnow()
            for _, _, stamp in claims:
                stamp.append(now)
            try:
                async with self.db.connection() as conn:
                    await mark_sent(conn, [(row, message) for row, message, _ in sent])
                    taken = await claim_rows(conn, [row for row, _, _ in claims], now)
            except BaseException as exc:  # every waiter learns of it; an outage is no bug
                # cancelled (the process is stopping): treated as an outage
                cancelled = not isinstance(exc, Exception)
                outage = cancelled or is_connection_error(exc)
                failure = StoreUnavailable("stopping") if cancelled else exc
                for _, _, future in sent:
                    if not future.done():
                        if outage:
                            future.set_result(False)
                        else:
                            future.set_exception(failure)
                for _, future, _ in claims:
                    if not future.done():
                        future.set_exception(failure)
                if cancelled:
                    raise
                continue
            for _, _, future in sent:
                if not future.done():
                    future.set_result(True)
            for row, future, _ in claims:
                # a row asked for twice in one batch (the fast path and the loop) is one
                # claim: only the first asker may send it
                if not future.done():
                    future.set_result(row in taken)
                taken.discard(row)


class OutboxSender:
    def __init__(self, sender: Sender, db: Database, stopping: asyncio.Event) -> None:
        self.sender = sender
        self.db = db
        self.stopping = stopping
        self.ledger = Ledger(db)
        self.interval = 1.0
        self.in_flight_limit: timedelta | None = None  # see recover()
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._edits_in_flight = asyncio.Semaphore(EDITS_IN_FLIGHT)
        self._unwritten: list[tuple[int, str, dict[str, Any]]] = []  # marks waiting for the db

    # ------------------------------------------------------------------ one row

    async def deliver(self, action: Outbound, priority: int = 0) -> None:
        """Send the message of one outbox row (`action.outbox_id`) and mark the row.
        `priority` is the row's (replies 0 go before notices and broadcasts)."""
        row = action.outbox_id
        assert row is not None
        delay = 0.5
        attempt = 0
        patience = time.monotonic() + DATABASE_PATIENCE
        in_flight = self._edits_in_flight if isinstance(action, Edit) else self._in_flight
        while attempt < INLINE_ATTEMPTS:
            # before the claim: "sending" stays short
            await self.sender.send_rate.acquire(priority)
            async with in_flight:
                failure = await self._attempt(row, action)
            if failure is DATABASE_DOWN:
                # the reply waits here, so the person's next update (held back by the
                # door's per-person order, or by Telegram until this one is answered)
                # cannot overtake it; past the patience, the loop takes it later
                if not await self._database_back(patience):
                    return
                continue
            if failure is None:
                return  # sent, or finished, or left for the loop
            assert isinstance(failure, ApiError)
            attempt += 1
            if failure.kind is ApiErrorKind.BLOCKED:
                await self.mark(row, "blocked")
                return
            if failure.kind not in TEMPORARY:
                log.error("Telegram refused a %s (%s)", type(action).__name__, failure.kind)
                await self.mark(row, "failed", error=str(failure.kind))
                return
            wait = failure.retry_after or delay
            delay = min(delay * 2, 8.0)
            await self.mark(row, "retry", error=str(failure.kind), after=wait)
            if attempt == INLINE_ATTEMPTS or self.stopping.is_set():
                return  # the loop tries again later
            await asyncio.sleep(wait)

    async def _database_back(self, patience: float) -> bool:
        """After a claim met a database outage: wait until the database answers again (the
        marks held back, this row's undone claim among them, are written) or until
        `patience` (a monotonic time) has passed; False then, or when stopping."""
        pause = 0.25
        while not self.stopping.is_set() and time.monotonic() < patience:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)
            pause = min(pause * 2, 2.0)
            try:
                await self._write_marks()
                if not self._unwritten:
                    async with self.db.unit() as repo:
                        await repo.outbox.get(0)  # is it back? (one indexed lookup)
                    return True
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
        return False

    async def _attempt(self, row: int, action: Outbound) -> ApiError | object | None:
        """Claim the row and make one attempt; the Bot API's refusal, `DATABASE_DOWN` when
        the claim met a database outage (nothing was sent), or None when the row is done
        with (sent and marked, taken by someone else, or waiting for the loop)."""
        stamp: list[datetime] = []  # the claim's time, once the ledger has tried to write it
        try:
            if not await self.ledger.claim(row, stamp):
                return None  # sent by another sender, or finished meanwhile
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            log.warning("outbox row %s waits: database unreachable", row)
            # the claim may have been committed with its answer lost: then the row is
            # "sending" and nobody sends it; undo exactly that claim when the database is
            # back (the row is pending again, for the loop)
            if stamp:
                self._unwritten.append((row, "unclaim", {"at": stamp[0]}))
            return DATABASE_DOWN
        try:
            message_id = await self._send_once(action)
        except ApiError as exc:
            return exc
        except Exception as exc:
            log.error("sending outbox row %s failed: %s", row, type(exc).__name__)
            await self.mark(row, "failed", error=type(exc).__name__)
            return None
        await self.mark(row, "sent", message_id=message_id)
        return None

    async def _send_once(self, action: Outbound) -> int | None:
        if isinstance(action, Send):
            return await self.sender.send_text(
                action.chat_id, action.text, action.keyboard, once=True
            )
        if isinstance(action, Edit):
            return await self.sender.edit(action, once=True)
        return await self.sender.send_file(action, once=True)

    async def mark(self, row: int, status: str, **values: Any) -> None:
        if not await self._write(row, status, values):
            self._unwritten.append((row, status, values))

    async def _write_marks(self) -> None:
        """Write the marks a database outage held back (the loop calls this)."""
        waiting, self._unwritten = self._unwritten, []
        for index, (row, status, values) in enumerate(waiting):
            if not await self._write(row, status, values):
                self._unwritten.extend(waiting[index:])
                return

    async def _write(self, row: int, status: str, values: dict[str, Any]) -> bool:
        """Mark one row; False when the database is unreachable."""
        if status == "sent":  # the usual mark: group-committed with others
            return await self.ledger.sent(row, values.get("message_id"))
        try:
            async with self.db.unit() as repo:
                if status == "blocked":
                    await repo.outbox.blocked(row)
                elif status == "failed":
                    await repo.outbox.failed(row, values.get("error", ""))
                elif status == "unclaim":
                    await repo.outbox.unclaim(row, values["at"])
                else:
                    stored = await repo.outbox.get(row)
                    if stored is not None and stored.attempts >= MAX_ATTEMPTS:
                        await repo.outbox.failed(row, "gave up: " + values.get("error", ""))
                    else:
                        after = timedelta(seconds=values["after"])
                        await repo.outbox.retry(row, values.get("error", ""), after)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            return False
        return True

    # ------------------------------------------------------------------ the loop

    async def recover(self) -> int:
        """Rows a dead process left "sending" become "unknown" (logged, not resent), but an
        edit is sent again (see `Outbox.recover`). With `in_flight_limit` (replicas:
        others are sending right now) only rows "sending" for longer than that. Returns
        how many became unknown."""
        before = utcnow() - self.in_flight_limit if self.in_flight_limit else None
        async with self.db.unit() as repo:
            lost, again = await repo.outbox.recover(before)
        for row in lost:
            log.warning(
                "outbox row %s (a %s to chat %s) was in flight when the bot stopped: it may "
                "or may not have arrived, and is not sent again (at most once)",
                row.id,
                row.action.get("type"),
                row.chat_id,
            )
        for row in again:
            log.info(
                "outbox row %s (an edit in chat %s) was in flight when the bot stopped: "
                "sending it again (an edit sent twice changes nothing)",
                row.id,
                row.chat_id,
            )
        return len(lost)

    async def run(self, leading: Callable[[], bool] = lambda: True) -> None:
        """Until `stopping`: send what is due (see the module docstring). With several
        replicas only the one `leading` recovers and drains (bot/replicas.py); every one
        writes the marks its own sends could not write during a database outage."""
        first = True
        while not self.stopping.is_set():
            try:
                await self._write_marks()
                if not leading():
                    first = True  # a new leader starts with recovery
                else:
                    if first or self.in_flight_limit:
                        await self.recover()
                    # untried rows younger than FRESH are being sent by the fast path;
                    # only a process that has just started alone may take them (with
                    # replicas, a new leader would race the others' fast paths and send
                    # a reply after the replies of later updates)
                    alone = first and not self.in_flight_limit
                    await self.drain(fresh_after=None if alone else utcnow() - FRESH)
                    first = False
            except Exception as exc:
                if not is_connection_error(exc):
                    log.exception("the outbox loop failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval)

    async def drain(self, fresh_after: Any = None) -> int:
        """Send the due rows once; returns how many were taken."""
        async with self.db.unit() as repo:
            rows = await repo.outbox.due(500, fresh_after=fresh_after)
        by_chat: dict[int, list[tuple[Outbound, int]]] = defaultdict(list)
        for row in rows:
            try:
                action = decode(row.chat_id, row.action, row.id)
                by_chat[row.chat_id].append((action, row.priority))  # type: ignore[arg-type]
            except (KeyError, ValueError) as exc:
                log.error("outbox row %s cannot be read (%s)", row.id, exc)
                await self.mark(row.id or 0, "failed", error="unreadable")
        gate = asyncio.Semaphore(CHATS_AT_ONCE)

        async def chat(actions: list[tuple[Outbound, int]]) -> None:
            async with gate:
                for action, priority in actions:
                    if self.stopping.is_set():
                        return
                    await self.deliver(action, priority)

        await asyncio.gather(*(chat(actions) for actions in by_chat.values()))
        return len(rows)
