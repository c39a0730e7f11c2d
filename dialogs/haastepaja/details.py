"""Name and company for one event's attendee list, asked only after the person agreed.

    name -> company (or skip) -> saved

Stored only for that event (`attendee_details`), shown only in staff's attendee list,
erased by /forget and when the person says they are not coming after all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dialogs.actions import Btn
from dialogs.flow import END, Flow, Step
from dialogs.haastepaja import fields as f
from dialogs.router import Context
from dialogs.ui import esc, rows


def steps() -> tuple[Step, ...]:
    return (
        Step(
            "name",
            show=ask_name,
            text=f.line(f.NAME_MAX, took_name),
            buttons={"stop": stop},
            goes=("company", END),
        ),
        Step(
            "company",
            show=ask_company,
            text=f.line(f.NAME_MAX, took_company),
            buttons={"skip": skip_company},
            goes=(END,),
        ),
    )


@dataclass(frozen=True)
class Details:
    event: int = 0
    name: str = ""


class AttendeeDetailsFlow(Flow[Details]):
    name = "hp_details"
    prefix = "hpd"
    Data = Details

    def move(self, ctx: Context, step: str, data: Details) -> None:
        """Go to `step` of this flow with `data` written back."""
        ctx.go(self.name, step, data)

    async def begin(self, ctx: Context, arg: str = "") -> None:
        data = Details(event=int(arg))
        self.move(ctx, "name", data)
        await ask_name(ctx, data)


async def ask_name(ctx: Context, data: Details) -> None:
    ctx.send(
        ctx._("📝 Your name for the attendee list?"),
        rows([Btn(ctx._("Never mind"), details_flow.button("name", "stop"))]),
    )


async def took_name(ctx: Context, data: Details, name: str) -> None:
    data = replace(data, name=name)
    details_flow.move(ctx, "company", data)
    await ask_company(ctx, data)


async def ask_company(ctx: Context, data: Details) -> None:
    ctx.send(
        ctx._("And your company or organisation? (Skip if none.)"),
        rows([Btn(ctx._("Skip"), details_flow.button("company", "skip"))]),
    )


async def took_company(ctx: Context, data: Details, company: str) -> None:
    await save(ctx, data, company)


async def skip_company(ctx: Context, data: Details, value: str) -> None:
    await save(ctx, data, "")


async def save(ctx: Context, data: Details, company: str) -> None:
    rsvp = await ctx.repo.rsvps.get(data.event, ctx.user.id)
    ctx.go(None)
    if rsvp is None or rsvp.status != "going":
        ctx.send(ctx._("The attendee list is only for those who are coming."))
        return
    await ctx.repo.attendees.put(data.event, ctx.user.id, data.name, company)
    shown = esc(data.name) + (f", {esc(company)}" if company else "")
    ctx.send(
        ctx._("✅ Thank you! On the attendee list as: {shown}. /forget erases it.", shown=shown)
    )


async def stop(ctx: Context, data: Details, value: str) -> None:
    ctx.go(None)
    ctx.send(ctx._("OK, your name is not put on the attendee list."))


details_flow = AttendeeDetailsFlow(steps())
