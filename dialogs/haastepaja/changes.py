"""What a change to a saved event does for the people it concerns.

    tell_people          a change of time or place, or a cancellation: a message to everyone
                         coming and everyone on the waitlist, in their language (while the
                         event is open, with "I can't come after all")
    update_invitations   every invitation already delivered is edited in place to show the
                         event as it now is (time, place, texts, places, "cancelled"), with
                         that person's own answer

An invitation's message is known from its outbox row (a broadcast of this event, marked
sent with Telegram's message id) or from the RSVP (the message the person answered on).
The edits are outbox rows of the broadcast kind: they go after replies and notices, and a
person who blocked the bot is skipped. Everything is queued in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dialogs.actions import Edit, Send
from dialogs.haastepaja import clock, deliver
from dialogs.haastepaja.invite import (
    Seats,
    invitation_keyboard,
    invitation_text,
    reminder_keyboard,
)
from dialogs.haastepaja.rsvp import closed
from dialogs.store.haastepaja import HaastepajaEvent, Rsvp
from dialogs.store.outbox import encode
from dialogs.store.repo import Repository
from locales.i18n import Translator

Translators = Callable[[str], Translator]
CONCERNED = ("going", "waitlist")


async def tell_people(
    repo: Repository,
    tr: Translators,
    event: HaastepajaEvent,
    make: Callable[[Translator], str],
    statuses: tuple[str, ...] = CONCERNED,
) -> int:
    """Queue `make(t)` to everyone whose answer is in `statuses`; returns how many."""
    assert event.id is not None
    messages: list[tuple[int | None, Send]] = []
    for status in statuses:
        for rsvp in await repo.rsvps.of_event(event.id, status):
            user = await repo.users.get(rsvp.user_id)
            if user is None or user.blocked:
                continue
            t = tr(user.locale)
            keyboard = reminder_keyboard(t, event) if event.status == "open" else ()
            messages.append((user.id, Send(user.id, make(t), keyboard)))
    return await deliver.queue_notices(repo, messages)


async def invitations_out(
    repo: Repository, event_id: int, answers: Iterable[Rsvp] | None = None
) -> dict[int, tuple[int, int]]:
    """The event's delivered invitations: user id -> (chat id, message id)."""
    where = await repo.broadcasts.delivered(event_id)
    for rsvp in await repo.rsvps.of_event(event_id) if answers is None else answers:
        if rsvp.message_id is not None:
            where[rsvp.user_id] = (rsvp.user_id, rsvp.message_id)  # the one they answered on
    return where


async def update_invitations(repo: Repository, tr: Translators, event: HaastepajaEvent) -> int:
    """Queue an edit of every delivered invitation of `event`; returns how many."""
    assert event.id is not None
    answers = {r.user_id: r for r in await repo.rsvps.of_event(event.id)}
    where = await invitations_out(repo, event.id, answers.values())
    if not where:
        return 0
    counts = await repo.rsvps.counts(event.id)
    seats = Seats(counts["going"], counts["waitlist"])
    waiting = [r.user_id for r in await repo.rsvps.of_event(event.id, "waitlist")]
    position = {user_id: n for n, user_id in enumerate(waiting, 1)}
    now_closed = closed(event, clock.now())
    queued = 0
    for user_id, (chat_id, message_id) in sorted(where.items()):
        user = await repo.users.get(user_id)
        if user is None or user.blocked:
            continue
        t = tr(user.locale)
        rsvp = answers.get(user_id)
        status = rsvp.status if rsvp else None
        text = invitation_text(t, event, seats, status, position.get(user_id), now_closed)
        keyboard = invitation_keyboard(t, event, seats, status, now_closed)
        edit = Edit(chat_id, message_id, text, keyboard)
        await repo.outbox.add(chat_id, encode(edit), kind="broadcast", user_id=user_id)
        queued += 1
    return queued
