"""Change an event's time: start (and end) -> confirm -> everyone concerned hears it.

The reminders' due times move with the event; people who are coming or on the waitlist
get the new time in their language with a one-press "I can't come after all", and every
invitation already delivered is edited in place to show the new time
(dialogs.haastepaja.changes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dialogs.actions import Btn
from dialogs.flow import END, Flow, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja import fields as f
from dialogs.haastepaja.changes import tell_people, update_invitations
from dialogs.haastepaja.invite import moved_text
from dialogs.haastepaja.when import When, fmt_span, reminder_times
from dialogs.router import Context
from dialogs.ui import rows


def steps() -> tuple[Step, ...]:
    return (
        Step("start", show=ask_start, text=f.start(took_start), goes=("end", "confirm")),
        Step("end", show=f.ask_end, text=f.end(start_of, took_end), goes=("confirm",)),
        Step("confirm", show=show_confirm, buttons={"yes": apply, "no": keep}, goes=(END,)),
    )


@dataclass(frozen=True)
class Retime:
    event: int = 0
    start: str = ""
    end: str = ""


class RetimeFlow(Flow[Retime]):
    name = "hp_retime"
    prefix = "hpt"
    Data = Retime

    def move(self, ctx: Context, step: str, data: Retime) -> None:
        """Go to `step` of this flow with `data` written back."""
        ctx.go(self.name, step, data)

    async def begin(self, ctx: Context, arg: str = "") -> None:
        data = Retime(event=int(arg))
        self.move(ctx, "start", data)
        await ask_start(ctx, data)


async def ask_start(ctx: Context, data: Retime) -> None:
    ctx.send(
        ctx._(
            "🗓 The new start (and end), for example <code>5.2. 13-15</code>. /cancel keeps "
            "the old time."
        )
    )


def start_of(data: Retime) -> datetime:
    return datetime.fromisoformat(data.start)


async def took_start(ctx: Context, data: Retime, when: When) -> None:
    data = replace(data, start=when.start.isoformat(), end=when.end.isoformat() if when.end else "")
    step = "confirm" if when.end else "end"
    retime.move(ctx, step, data)
    await retime.table[step].show(ctx, data)


async def took_end(ctx: Context, data: Retime, end: datetime) -> None:
    data = replace(data, end=end.isoformat())
    retime.move(ctx, "confirm", data)
    await show_confirm(ctx, data)


async def show_confirm(ctx: Context, data: Retime) -> None:
    counts = await ctx.repo.rsvps.counts(data.event)
    concerned = counts["going"] + counts["waitlist"]
    span = fmt_span(datetime.fromisoformat(data.start), datetime.fromisoformat(data.end), ctx.lang)
    ctx.send(
        ctx.n_(
            "Change the time to {when}? The {n} person coming or on the waitlist gets a "
            "message, and the invitations already sent show the new time.",
            "Change the time to {when}? The {n} people coming or on the waitlist get a "
            "message, and the invitations already sent show the new time.",
            concerned,
            when=span,
        ),
        rows(
            [
                Btn(ctx._("✅ Change it"), retime.button("confirm", "yes")),
                Btn(ctx._("No, keep the old time"), retime.button("confirm", "no")),
            ],
            2,
        ),
    )


async def apply(ctx: Context, data: Retime, value: str) -> None:
    ctx.go(None)
    event = await ctx.repo.hp_events.get(data.event, lock=True)
    if event is None or event.status != "open":
        ctx.send(ctx._("This event can no longer be changed."))
        return
    now = clock.now()
    event.starts_at, event.ends_at = (
        datetime.fromisoformat(data.start),
        datetime.fromisoformat(data.end),
    )
    if event.deadline is not None and event.deadline > event.starts_at:
        event.deadline = event.starts_at
    event.remind_24h_at, event.remind_2h_at = reminder_times(event.starts_at, now)
    event.updated_at = now
    queued = await tell_people(ctx.repo, ctx.translator, event, lambda t: moved_text(t, event))
    edited = await update_invitations(ctx.repo, ctx.translator, event)
    ctx.repo.audit.log("event_retime", f"haastepaja:{event.id}", ctx.user.id)
    ctx.send(
        ctx.n_(
            "✅ Time changed. A message to {n} person is queued.",
            "✅ Time changed. Messages to {n} people are queued.",
            queued,
        )
        + " "
        + updated_line(ctx, edited)
    )


def updated_line(ctx: Context, edited: int) -> str:
    return ctx.n_(
        "{n} invitation already sent is updated in place.",
        "{n} invitations already sent are updated in place.",
        edited,
    )


async def keep(ctx: Context, data: Retime, value: str) -> None:
    ctx.go(None)
    ctx.send(ctx._("The time was not changed."))


retime = RetimeFlow(steps())
