"""The one place that queues haastepaja messages to other people.

Invitations are outbox rows of kind "broadcast" (one per broadcast × recipient, unique, so
writing them twice queues nobody twice); reminders, cancellations and promotions are rows
of kind "notice". The outbox's sender delivers them at the shared rate, interactive replies
first, and records each row's fate (sent, blocked, failed, unknown), which the counts and
the delivery report read back.
"""

from __future__ import annotations

from dialogs.actions import Action, Send
from dialogs.router import Context
from dialogs.store.outbox import encode
from dialogs.store.repo import Repository

PENDING = ("pending", "sending")


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
    statuses = ("pending", "sending", "sent", "blocked", "failed", "unknown")
    return {status: raw.get(status, 0) for status in statuses}
