"""The outbox: every message the bot means to send, as a row, until Telegram confirms it.

Why: the engine commits an update's writes and its replies in one transaction, so a reply
the person was owed survives a crash, a `kill -9`, a Bot API outage longer than the retry
window. The door sends the rows at once (the fast path); a sender loop sends whatever is
left (after a restart, after a failed attempt) and, later, haastepaja broadcasts.

A row (`models.OutboxMessage`):

    kind      reply (priority 0) | notice (1) | broadcast (2): lower priority first, so a
              person talking to the bot is answered before a broadcast's 2,000 rows go out
    chat_id   where it goes (BIGINT); user_id whom it is for or about (a broadcast's
              recipient, the person a staff-chat ticket post is about: /forget finds it)
    action    the rendered message as JSON (`encode` / `decode` below): send, edit, file
              (bytes as base64), or `deferred` (a chart or PDF made after the commit: the
              marker holds a translated fallback text sent if the process died first)
    status    pending -> sending -> sent | blocked (403) | failed (Telegram refused it)
              pending -> sending -> pending again (due_at later) on a temporary failure
              sending found at start -> unknown (never resent: the Bot API has no
              idempotency key, so delivery is at most once; logged); an edit found
              sending goes back to pending instead (sending it twice changes nothing)
    attempts, last_error, due_at, sent_message_id, created_at, updated_at
    broadcast_id + user_id: unique together, so a broadcast is written once per recipient
              even if the writer runs twice (`Outbox.broadcast`)

A sent row keeps no text (its action is reduced to its type): the outbox is not a second
copy of people's answers. `prune` removes finished rows after a while.

Claiming is one atomic `UPDATE … WHERE status = 'pending'`, so two senders (the fast path
and the loop, or two processes) never send one row twice; on PostgreSQL the loop's
selection uses `FOR UPDATE SKIP LOCKED`.

On the hot path, `add` is plain SQL on the unit's own driver connection
(`dialogs.store.raw`), in the update's transaction; `claim`, the marks, `claim_rows` and
`mark_sent` are SQLAlchemy Core with no ORM bookkeeping, the last two claiming and marking
many rows at once on a bare connection, for the sender's group commit
(bot/adapters/telegram/outbox.py).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dialogs.actions import Action, Btn, Edit, Keyboard, Send, SendFile
from dialogs.store.models import OutboxMessage, utcnow
from dialogs.store.raw import RawLane, dumps

PRIORITY = {"reply": 0, "notice": 1, "broadcast": 2}
FINISHED = ("sent", "blocked", "failed", "unknown")
RESEND_EDITS = 3  # an edit in flight at a crash is sent again at most this often
TABLE = OutboxMessage.__table__  # Core statements: no ORM bookkeeping on the hot path


# ---------------------------------------------------------------------- action <-> JSON


def _keyboard(keyboard: Keyboard) -> list[list[dict[str, str]]]:
    return [
        [
            {"label": b.label, "payload": b.payload}
            if b.payload
            else {"label": b.label, "url": b.url or ""}
            for b in row
        ]
        for row in keyboard
    ]


def _unkeyboard(rows: list[list[dict[str, str]]]) -> Keyboard:
    return tuple(
        tuple(Btn(b["label"], payload=b.get("payload"), url=b.get("url")) for b in row)
        for row in rows
    )


def encode(action: Action) -> dict[str, Any]:
    """An action as JSON for the outbox (Toasts are never stored: they answer a press that
    is long gone after a restart)."""
    if isinstance(action, Send):
        return {"type": "send", "text": action.text, "keyboard": _keyboard(action.keyboard)}
    if isinstance(action, Edit):
        return {
            "type": "edit",
            "message_id": action.message_id,
            "text": action.text,
            "keyboard": _keyboard(action.keyboard),
        }
    if isinstance(action, SendFile):
        return {
            "type": "file",
            "kind": action.kind,
            "data": base64.b64encode(action.data).decode(),
            "filename": action.filename,
            "caption": action.caption,
        }
    raise TypeError(f"not an outbox action: {type(action).__name__}")


def deferred_marker(fallback: str) -> dict[str, Any]:
    """A piece made after the commit (a chart, a PDF); `fallback` is sent instead if the
    process stopped before it was made."""
    return {"type": "deferred", "text": fallback}


def decode(chat_id: int, data: dict[str, Any], row_id: int | None = None) -> Action:
    kind = data.get("type")
    if kind == "edit":
        return Edit(
            chat_id,
            int(data["message_id"]),
            data["text"],
            _unkeyboard(data.get("keyboard", [])),
            outbox_id=row_id,
        )
    if kind == "file":
        return SendFile(
            chat_id,
            data["kind"],
            base64.b64decode(data["data"]),
            data["filename"],
            data.get("caption", ""),
            outbox_id=row_id,
        )
    if kind in ("send", "deferred"):
        return Send(chat_id, data["text"], _unkeyboard(data.get("keyboard", [])), outbox_id=row_id)
    raise ValueError(f"unknown outbox action type {kind!r}")


# ---------------------------------------------------------------------- the table


class Outbox:
    """The outbox's part of a unit of work (`repo.outbox`). Like every repository table it
    never commits: the sender opens a short unit per claim and per result."""

    def __init__(self, session: Any, postgres: bool, raw: RawLane | None = None) -> None:
        self.s = session
        self.postgres = postgres
        self.raw = raw if raw is not None else RawLane(session, postgres)

    async def add(
        self,
        chat_id: int,
        action: dict[str, Any],
        *,
        kind: str = "reply",
        user_id: int | None = None,
        broadcast_id: int | None = None,
        due_at: datetime | None = None,
    ) -> int:
        """Queue one message; returns its row id (written, not committed)."""
        raw = self.raw
        now = raw.time(utcnow())
        due = raw.time(due_at) if due_at is not None else now
        params = _row(kind, chat_id, action, user_id, broadcast_id, due, now)
        return int((await raw.fetch(_ADD_RAW, params))[0][0])

    @staticmethod
    @functools.cache
    def replies_sql(count: int) -> str:
        """One INSERT queuing `count` replies (see `reply_params`), RETURNING their ids;
        `Repository.finish` runs it (on PostgreSQL with the dialog state's UPDATE)."""
        return _ADD_HEAD + ", ".join([_ADD_ROW] * count) + " RETURNING id"

    def reply_params(self, replies: Iterable[tuple[int, dict[str, Any], int | None]]) -> list[Any]:
        """The values of `replies_sql`: (chat id, action, whom it is about) for each."""
        now = self.raw.time(utcnow())
        params: list[Any] = []
        for chat_id, action, user_id in replies:
            params += _row("reply", chat_id, action, user_id, None, now, now)
        return params

    async def broadcast(
        self,
        broadcast_id: int,
        recipients: Iterable[tuple[int, int]],
        actions: dict[int, dict[str, Any]] | dict[str, Any],
        due_at: datetime | None = None,
    ) -> int:
        """Queue one broadcast message per (user_id, chat_id); a recipient already queued
        for this broadcast is skipped (the unique constraint). `actions` is one action for
        all, or one per user id (each in the recipient's language). Returns rows added."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        now = utcnow()
        added = 0
        for user_id, chat_id in recipients:
            action = actions.get(user_id) if "type" not in actions else actions  # type: ignore[call-overload]
            if action is None:
                continue
            stmt = (pg_insert if self.postgres else sqlite_insert)(OutboxMessage).values(
                kind="broadcast",
                priority=PRIORITY["broadcast"],
                chat_id=chat_id,
                user_id=user_id,
                broadcast_id=broadcast_id,
                action=action,
                status="pending",
                attempts=0,
                due_at=due_at or now,
                created_at=now,
                updated_at=now,
            )
            result = await self.s.execute(stmt.on_conflict_do_nothing())
            added += result.rowcount or 0
        return added

    async def claim(self, row_id: int, at: datetime | None = None) -> bool:
        """pending -> sending (stamped `at`); False if someone else took it (or it is
        finished)."""
        return row_id in await claim_rows(await self.s.connection(), [row_id], at)

    async def unclaim(self, row_id: int, at: datetime) -> bool:
        """sending -> pending again, only for the claim stamped `at` (a claim whose commit
        the claimer could not confirm, and which it never sent)."""
        result = await self.s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.status == "sending",
                OutboxMessage.updated_at == at,
            )
            .values(status="pending", attempts=OutboxMessage.attempts - 1, updated_at=utcnow())
        )
        return result.rowcount == 1

    async def claim_due(
        self, limit: int = 100, *, created_before: datetime | None = None
    ) -> list[OutboxMessage]:
        """Claim up to `limit` due rows, most urgent first (then oldest first).
        `created_before` leaves the newest rows to the fast path that wrote them."""
        now = utcnow()
        query = select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.due_at <= now
        )
        if created_before is not None:
            query = query.where(OutboxMessage.created_at <= created_before)
        query = query.order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        ids = list((await self.s.execute(query)).scalars())
        if not ids:
            return []
        await self.s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
            .values(status="sending", attempts=OutboxMessage.attempts + 1, updated_at=now)
        )
        rows = await self.s.execute(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
            .order_by(OutboxMessage.priority, OutboxMessage.id)
        )
        return list(rows.scalars())

    async def due(
        self, limit: int = 100, *, fresh_after: datetime | None = None
    ) -> list[OutboxMessage]:
        """Pending rows that are due, most urgent first, without claiming them (the sender
        claims each one just before its send). Rows created after `fresh_after` that were
        never tried belong to the fast path that wrote them and are left out."""
        query = select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.due_at <= utcnow()
        )
        if fresh_after is not None:
            # only replies have a fast path (the door that handled the update); a notice
            # written by the back office or a broadcast row is due at once
            query = query.where(
                (OutboxMessage.attempts > 0)
                | (OutboxMessage.created_at <= fresh_after)
                | (OutboxMessage.kind != "reply")
            )
        query = query.order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
        return list((await self.s.execute(query)).scalars())

    async def get(self, row_id: int) -> OutboxMessage | None:
        return await self.s.get(OutboxMessage, row_id)

    async def _finish(self, row_id: int, status: str, **values: Any) -> None:
        """One statement; a row erased meanwhile (/forget) is simply not there. (Core: an
        OutboxMessage this session loaded earlier keeps its old values in memory.)"""
        if status in FINISHED:
            values["action"] = _stripped(self.postgres)  # keep no text once done
        conn = await self.s.connection()
        await conn.execute(
            update(TABLE)
            .where(TABLE.c.id == row_id)
            .values(status=status, updated_at=utcnow(), **values)
        )

    async def sent(self, row_id: int, message_id: int | None) -> None:
        await self._finish(row_id, "sent", sent_message_id=message_id, last_error=None)

    async def blocked(self, row_id: int) -> None:
        await self._finish(row_id, "blocked", last_error="blocked by the user")

    async def failed(self, row_id: int, error: str) -> None:
        await self._finish(row_id, "failed", last_error=error[:200])

    async def retry(self, row_id: int, error: str, after: timedelta) -> None:
        """A temporary failure: back to pending, due again after `after`."""
        await self._finish(row_id, "pending", last_error=error[:200], due_at=utcnow() + after)

    async def recover(
        self, before: datetime | None = None
    ) -> tuple[list[OutboxMessage], list[OutboxMessage]]:
        """At start: rows left 'sending' by a process that died. A new message may or may
        not have reached Telegram: it becomes 'unknown' and is not sent again (at most
        once). An *edit* is different: sending it twice leaves the message as the first
        send did ("not modified" is success), so it goes back to 'pending', unless a later
        row for the chat exists (the later one may have changed the same message again:
        the old edit would undo it) or it was already tried `RESEND_EDITS` times.
        Returns (unknown, to be sent again)."""
        query = select(OutboxMessage).where(OutboxMessage.status == "sending")
        if before is not None:
            query = query.where(OutboxMessage.updated_at < before)
        rows = list((await self.s.execute(query)).scalars())
        unknown: list[OutboxMessage] = []
        again: list[OutboxMessage] = []
        for row in rows:
            if (
                row.action.get("type") == "edit"
                and row.attempts <= RESEND_EDITS
                and not await self._later_row(row)
            ):
                await self._finish(
                    row.id or 0, "pending", last_error="in flight at a crash", due_at=utcnow()
                )
                again.append(row)
            else:
                await self._finish(row.id or 0, "unknown", last_error="in flight at a crash")
                unknown.append(row)
        return unknown, again

    async def _later_row(self, row: OutboxMessage) -> bool:
        later = await self.s.execute(
            select(TABLE.c.id)
            .where(TABLE.c.chat_id == row.chat_id, TABLE.c.id > (row.id or 0))
            .limit(1)
        )
        return later.first() is not None

    async def counts(self, broadcast_id: int | None = None) -> dict[str, int]:
        """Rows per status (of one broadcast: its delivery report)."""
        query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        if broadcast_id is not None:
            query = query.where(OutboxMessage.broadcast_id == broadcast_id)
        return {status: int(n) for status, n in (await self.s.execute(query)).all()}

    async def posts_about(self, user_id: int, chat_id: int) -> list[int]:
        """Message ids of sent posts about a person in a chat (the staff chat's tickets)."""
        rows = await self.s.execute(
            select(OutboxMessage.sent_message_id).where(
                OutboxMessage.user_id == user_id,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == "sent",
                OutboxMessage.sent_message_id.is_not(None),
            )
        )
        return [int(m) for m in rows.scalars()]

    async def last_sent_id(self, chat_id: int) -> int | None:
        """The newest message id Telegram confirmed in a chat (None: none on record)."""
        query = select(func.max(OutboxMessage.sent_message_id)).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.status == "sent"
        )
        value = (await self.s.execute(query)).scalar_one_or_none()
        return int(value) if value is not None else None

    async def missing_since(self, chat_id: int) -> int | None:
        """If the chat's latest messages did not (or not yet) reach Telegram, the newest
        message id that did (0: none did); None when everything queued was delivered."""
        last = await self.s.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.sent_message_id)
            .where(OutboxMessage.chat_id == chat_id)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        newest = last.first()
        if newest is None or newest.status == "sent":
            return None
        return await self.last_sent_id(chat_id) or 0

    async def forget(self, user_id: int) -> None:
        """Erase a person's rows (/forget): unsent messages to them too."""
        await self.s.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user_id))

    async def prune(self, before: datetime) -> int:
        """Remove finished rows last changed before `before`, except the posts about a
        person in a group (the staff chat's tickets): /forget still needs their ids."""
        kept = (
            (OutboxMessage.status == "sent")
            & (OutboxMessage.chat_id < 0)
            & OutboxMessage.user_id.is_not(None)
        )
        result = await self.s.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status.in_(FINISHED), OutboxMessage.updated_at < before, ~kept
            )
        )
        return result.rowcount or 0


# ---------------------------------------------------------------------- many rows at once


def _stripped(postgres: bool) -> Any:
    """SQL for a finished row's action: only its type is kept ({"type": "send"})."""
    if postgres:
        kind = func.coalesce(TABLE.c.action.op("->>")("type"), "?")
        return func.json_build_object("type", kind)
    return func.json_object("type", func.coalesce(func.json_extract(TABLE.c.action, "$.type"), "?"))


# the hot statements, built once (building one costs more than running it on SQLite)
# `add`, on the unit's own connection (dialogs/store/raw.py)
_ADD_HEAD = (
    "INSERT INTO outbox (kind, priority, chat_id, user_id, broadcast_id, action, status, "
    "attempts, due_at, created_at, updated_at) VALUES "
)
_ADD_ROW = "(?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
_ADD_RAW = _ADD_HEAD + _ADD_ROW + " RETURNING id"


def _row(
    kind: str,
    chat_id: int,
    action: dict[str, Any],
    user_id: int | None,
    broadcast_id: int | None,
    due: Any,
    now: Any,
) -> tuple[Any, ...]:
    """The values of one `_ADD_ROW` (times as the driver wants them: `RawLane.time`)."""
    return (kind, PRIORITY[kind], chat_id, user_id, broadcast_id, dumps(action), due, now, now)


_CLAIM = (
    update(TABLE)
    .where(TABLE.c.id.in_(bindparam("ids", expanding=True)), TABLE.c.status == "pending")
    .values(status="sending", attempts=TABLE.c.attempts + 1, updated_at=bindparam("now"))
    .returning(TABLE.c.id)
)
_SENT = {
    postgres: update(TABLE)
    .where(TABLE.c.id == bindparam("row_id"))
    .values(
        status="sent",
        sent_message_id=bindparam("message_id"),
        last_error=None,
        updated_at=bindparam("now"),
        action=_stripped(postgres),
    )
    for postgres in (False, True)
}


async def claim_rows(
    conn: AsyncConnection, row_ids: Iterable[int], at: datetime | None = None
) -> set[int]:
    """pending -> sending (stamped `at`, see `Outbox.unclaim`) for each of `row_ids` that
    is still pending, in one statement; returns the ids claimed (the others were taken by
    another sender or are finished)."""
    ids = sorted(set(row_ids))  # one lock order for every sender (PostgreSQL)
    if not ids:
        return set()
    result = await conn.execute(_CLAIM, {"ids": ids, "now": at or utcnow()})
    return {int(row_id) for row_id in result.scalars()}


async def mark_sent(conn: AsyncConnection, sent: list[tuple[int, int | None]]) -> None:
    """Mark rows sent, with Telegram's message id, keeping no text: (row id, message id)
    pairs, one statement run for all of them."""
    if not sent:
        return
    now = utcnow()
    await conn.execute(
        _SENT[conn.dialect.name == "postgresql"],
        [{"row_id": row, "message_id": message, "now": now} for row, message in sent],
    )
