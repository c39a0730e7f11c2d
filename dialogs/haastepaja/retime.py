"""Change an event's time: start (and end) -> confirm -> everyone going hears it.

The reminders' due times move with the event; people who are coming get the new time in
their language with a one-press "I can't come after all".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dialogs.actions import Btn
from dialogs.flow import END, Flow, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja.invite import moved_text
from dialogs.haastepaja.jobs import notify_going
from dialogs.haastepaja.when import WhenError, fmt_span, parse_end, parse_start, reminder_times
from dialogs.router import Context
from dialogs.ui import rows


def steps() -> tuple[Step, ...]:
    return (
        Step("start", show=ask_start, text=take_start, goes=("end", "confirm")),
        Step("end", show=ask_end, text=take_end, goes=("confirm",)),
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


async def take_start(ctx: Context, data: Retime, text: str) -> bool:
    from dialogs.haastepaja.compose import when_error

    try:
        when = parse_start(text, clock.now())
    except WhenError as error:
        ctx.send(when_error(ctx, error))
        return True
    data = replace(data, start=when.start.isoformat(), end=when.end.isoformat() if when.end else "")
    step = "confirm" if when.end else "end"
    retime.move(ctx, step, data)
    await retime.table[step].show(ctx, data)
    return True


async def ask_end(ctx: Context, data: Retime) -> None:
    ctx.send(
        ctx._(
            "When does it end? A time on the same day, like <code>16</code> or "
            "<code>15.30</code>, or a date and time."
        )
    )


async def take_end(ctx: Context, data: Retime, text: str) -> bool:
    from dialogs.haastepaja.compose import when_error

    try:
        end = parse_end(text, datetime.fromisoformat(data.start), clock.now())
    except WhenError as error:
        ctx.send(when_error(ctx, error))
        return True
    data = replace(data, end=end.isoformat())
    retime.move(ctx, "confirm", data)
    await show_confirm(ctx, data)
    return True


async def show_confirm(ctx: Context, data: Retime) -> None:
    going = (await ctx.repo.rsvps.counts(data.event))["going"]
    span = fmt_span(datetime.fromisoformat(data.start), datetime.fromisoformat(data.end), ctx.lang)
    ctx.send(
        ctx.n_(
            "Change the time to {when}? The {n} person coming gets a message.",
            "Change the time to {when}? The {n} people coming get a message.",
            going,
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
    queued = await notify_going(ctx.repo, ctx.translator, event, lambda t: moved_text(t, event))
    ctx.repo.audit.log("event_retime", f"haastepaja:{event.id}", ctx.user.id)
    ctx.send(
        ctx.n_(
            "✅ Time changed. A message to {n} person is queued.",
            "✅ Time changed. Messages to {n} people are queued.",
            queued,
        )
    )


async def keep(ctx: Context, data: Retime, value: str) -> None:
    ctx.go(None)
    ctx.send(ctx._("The time was not changed."))


retime = RetimeFlow(steps())
