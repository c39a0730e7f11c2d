"""Name and company for one event's attendee list, asked only after the person agreed.

    name -> company (or skip) -> saved

Stored only for that event (`attendee_details`), shown only in staff's attendee list,
erased by /forget and when the person says they are not coming after all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dialogs.actions import Btn
from dialogs.flow import END, Flow, Step
from dialogs.router import Context
from dialogs.ui import esc, rows


def steps() -> tuple[Step, ...]:
    return (
        Step("name", show=ask_name, text=take_name, buttons={"stop": stop}, goes=("company", END)),
        Step(
            "company",
            show=ask_company,
            text=take_company,
            buttons={"skip": skip_company},
            goes=(END,),
        ),
    )


NAME_MAX = 120


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


async def take_name(ctx: Context, data: Details, text: str) -> bool:
    name = " ".join(text.split())
    if len(name) > NAME_MAX:
        ctx.send(ctx._("⚠️ Please keep it under {n} characters.", n=NAME_MAX))
        return True
    data = replace(data, name=name)
    details_flow.move(ctx, "company", data)
    await ask_company(ctx, data)
    return True


async def ask_company(ctx: Context, data: Details) -> None:
    ctx.send(
        ctx._("And your company or organisation? (Skip if none.)"),
        rows([Btn(ctx._("Skip"), details_flow.button("company", "skip"))]),
    )


async def take_company(ctx: Context, data: Details, text: str) -> bool:
    company = " ".join(text.split())
    if len(company) > NAME_MAX:
        ctx.send(ctx._("⚠️ Please keep it under {n} characters.", n=NAME_MAX))
        return True
    await save(ctx, data, company)
    return True


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
