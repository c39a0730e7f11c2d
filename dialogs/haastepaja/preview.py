"""/newevent's preview: each language's invitation exactly as its readers will see it,
with the buttons (which here only say "this is a preview"), and a real test to oneself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogs.actions import Btn, Keyboard
from dialogs.haastepaja import compose as c
from dialogs.haastepaja.invite import Seats, invitation_keyboard, invitation_text
from dialogs.router import Context
from dialogs.ui import rows
from locales.i18n import LANGUAGE_NAMES

if TYPE_CHECKING:
    from dialogs.haastepaja.compose import Draft


def inert(keyboard: Keyboard) -> Keyboard:
    """The recipients' buttons, answering only "this is a preview" when pressed."""
    return tuple(
        tuple(Btn(b.label, c.compose.button("preview", "noop")) for b in row) for row in keyboard
    )


async def show_preview(ctx: Context, data: Draft) -> None:
    event = await ctx.repo.hp_events.get(data.event or 0)
    if event is None:
        ctx.send(ctx._("That event no longer exists."))
        ctx.go(None)
        return
    counts = await ctx.repo.rsvps.counts(event.id or 0)
    seats = Seats(counts["going"], counts["waitlist"])
    for lang in ("fi", "en", "sv"):
        t = ctx.translator(lang)
        ctx.send(ctx._("👁 <b>Preview: what people using {lang} see</b>", lang=LANGUAGE_NAMES[lang]))
        ctx.send(
            invitation_text(t, event, seats),
            inert(invitation_keyboard(t, event, seats, None, False)),
        )
    ctx.send(
        ctx._("Does it look right? You can send a test to yourself before choosing who gets it."),
        rows(
            [
                Btn(ctx._("📨 Send me a test"), c.compose.button("preview", "test")),
                Btn(ctx._("👥 Choose recipients"), c.compose.button("preview", "go")),
            ]
        ),
    )


async def preview_noop(ctx: Context, data: Draft, value: str) -> None:
    ctx.toast(ctx._("This is a preview: the buttons work in the real invitation."))


async def send_test(ctx: Context, data: Draft, value: str) -> None:
    """The real invitation, buttons and all, to this staff member only."""
    from dialogs.haastepaja.rsvp import render_for

    event = await ctx.repo.hp_events.get(data.event or 0)
    if event is None:
        ctx.invalid_button()
        return
    text, keyboard = await render_for(ctx, event, None)
    ctx.send(text, keyboard)
    ctx.send(
        ctx._("📨 That is the test, as you would get it. Ready to choose recipients?"),
        rows(
            [
                Btn(ctx._("👥 Choose recipients"), c.compose.button("preview", "go")),
                Btn(ctx._("📨 Send me a test"), c.compose.button("preview", "test")),
            ]
        ),
    )


async def to_audience(ctx: Context, data: Draft, value: str) -> None:
    from dialogs.haastepaja.audience import show_audience

    c.compose.move(ctx, "seg", data)
    await show_audience(ctx, data)
