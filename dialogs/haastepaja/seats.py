"""Seats: who is going, who waits, and who moves up when a seat frees.

The rules, written once:

    answer yes, a seat free (or no capacity)  -> going
    answer yes, full                          -> waitlist, at the end (FIFO position)
    answer yes while already going/waiting    -> unchanged
    answer no                                 -> not going; if they held a seat, the first
                                                 on the waitlist is promoted to going
    capacity raised by staff                  -> the waitlist moves up while seats are free

`decide` and `free_seats` are pure; `answer` applies them to the store with the event's
row locked, so two people pressing for the last seat at once are decided one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dialogs.store.haastepaja import HaastepajaEvent, Rsvp
from dialogs.store.repo import Repository


def decide(answer: str, current: str | None, going: int, capacity: int | None) -> str:
    """The new status for `answer` ("yes"/"no") given the current one and the seats taken."""
    if answer == "no":
        return "not_going"
    if current in ("going", "waitlist"):
        return current
    if capacity is None or going < capacity:
        return "going"
    return "waitlist"


def free_seats(capacity: int | None, going: int) -> int | None:
    return None if capacity is None else max(0, capacity - going)


def is_full(capacity: int | None, going: int) -> bool:
    return capacity is not None and going >= capacity


@dataclass
class Outcome:
    status: str
    changed: bool
    rsvp: Rsvp
    promoted: list[Rsvp] = field(default_factory=list)


async def answer(
    repo: Repository, event: HaastepajaEvent, user_id: int, reply: str, now: datetime
) -> Outcome:
    """Record `reply` ("yes"/"no") of one person; the caller has locked the event's row."""
    assert event.id is not None
    rsvp = await repo.rsvps.get(event.id, user_id)
    counts = await repo.rsvps.counts(event.id)
    current = rsvp.status if rsvp else None
    status = decide(reply, current, counts["going"], event.capacity)
    if rsvp is None:
        rsvp = Rsvp(event_id=event.id, user_id=user_id, status=status, changed_at=now)
    changed = status != current
    if changed:
        rsvp.status, rsvp.changed_at = status, now
        rsvp.position = await repo.rsvps.next_position(event.id) if status == "waitlist" else None
        if status == "not_going":
            rsvp.checked_in_at = None
    await repo.rsvps.put(rsvp)
    promoted = await promote(repo, event, now) if current == "going" and changed else []
    return Outcome(status, changed, rsvp, promoted)


async def promote(repo: Repository, event: HaastepajaEvent, now: datetime) -> list[Rsvp]:
    """Move people from the waitlist to going, first come first served, while seats are free."""
    assert event.id is not None
    going = (await repo.rsvps.counts(event.id))["going"]
    seats = free_seats(event.capacity, going)
    waiting = await repo.rsvps.of_event(event.id, "waitlist")
    moved = waiting if seats is None else waiting[:seats]
    for rsvp in moved:
        rsvp.status, rsvp.position, rsvp.changed_at = "going", None, now
        await repo.rsvps.put(rsvp)
    return moved
