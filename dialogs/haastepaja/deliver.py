"""The one place that queues haastepaja messages to other people.

Invitations are outbox rows of kind "broadcast" (one per broadcast × recipient, unique, so
writing them twice queues nobody twice); reminders, cancellations and promotions are rows
of kind "notice". The outbox's sender delivers them at the shared rate, interactive replies
first, and records each row's fate (sent, blocked, failed, unknown), which the counts and
the delivery report read back.
"""

from __future__ import annotations

from sqlalchemy import select, update

from dialogs.actions import Action, Send
from dialogs.router import Context
from dialogs.store.models import OutboxMessage, User, utcnow
from dialogs.store.outbox import encode
from dialogs.store.repo import Repository

PENDING = ("pending", "sending", "paused")
STATUSES = ("pending", "sending", "paused", "sent", "blocked", "failed", "unknown")


def notice(ctx: Context, user_id: int, action: Action) -> None:
    """A message to another person as part of this event's answer (it goes out with it)."""
    ctx.actions.append(action)


async def queue_broadcast(repo: Repository, broadcast_id: int, messages: dict[int, Send]) -> int:
    """One invitation per recipient (user id -> message); returns the rows added."""
    actions = {user_id: encode(message) for user_id, message in messages.items()}
    recipients = [(user_id, messages[user_id].chat_id) for user_id in messages]
    return await repo.outbox.broadcast(broadcast_id, recipients, actions)


async def queue_notices(repo: Repository, messages: list[tuple[int | None, Send]]) -> int:
    """Notices (reminders, a cancellation, a change of time, a report) as (whom it is for,
    message); the user id lets /forget find a notice not yet sent."""
    for user_id, action in messages:
        await repo.outbox.add(action.chat_id, encode(action), kind="notice", user_id=user_id)
    return len(messages)


async def counts(repo: Repository, broadcast_id: int) -> dict[str, int]:
    """Deliveries of one broadcast per status (pending, sending, sent, blocked, failed,
    unknown), every status present."""
    raw = await repo.outbox.counts(broadcast_id)
    return {status: raw.get(status, 0) for status in STATUSES}


# A running broadcast can be paused, resumed and stopped. The sender claims only "pending"
# rows, so a row set aside as "paused" waits untouched; a stopped row is finished as
# "failed" with the reason, and keeps no text, like every finished row of the outbox.


async def _move(repo: Repository, broadcast_id: int, before: tuple[str, ...], **values) -> int:
    result = await repo.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status.in_(before))
        .values(updated_at=utcnow(), **values)
    )
    return result.rowcount or 0


async def pause(repo: Repository, broadcast_id: int) -> int:
    return await _move(repo, broadcast_id, ("pending",), status="paused")


async def resume(repo: Repository, broadcast_id: int) -> int:
    return await _move(repo, broadcast_id, ("paused",), status="pending")


async def stop(repo: Repository, broadcast_id: int) -> int:
    return await _move(
        repo,
        broadcast_id,
        ("pending", "paused"),
        status="failed",
        last_error="stopped by staff",
        action={"type": "send"},
    )


async def mark_blocked(repo: Repository, broadcast_id: int) -> int:
    """People whose invitation Telegram refused with 403 blocked the bot: leave them out of
    every later audience (writing to the bot again clears the mark, as for any reply)."""
    refused = select(OutboxMessage.user_id).where(
        OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status == "blocked"
    )
    result = await repo.session.execute(
        update(User).where(User.id.in_(refused), User.blocked.is_(False)).values(blocked=True)
    )
    return result.rowcount or 0
