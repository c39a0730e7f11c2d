"""The invitation's buttons, the calendar file, attendee details and check-in at the door.

Payloads are global (`rv:<event id>:<answer>`), valid whenever the event is open:

    y    I'm coming (or, when full, join the waitlist)
    n    I can't come (on the invitation: it is edited to show the answer)
    x    I can't come after all (on a reminder or notice: that message is edited)
    off  no more invitations, in one press
    d    leave my name and company for the attendee list (asks, with consent)
    nd   no thanks to that

A press after the deadline, on a cancelled or a finished event changes nothing and says
why. The event's row is locked while an answer is decided, so the last seat goes to one.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.actions import Btn, Edit, Keyboard, Send
from dialogs.haastepaja import clock, deliver
from dialogs.haastepaja.invite import (
    RsvpButton,
    Seats,
    invitation_keyboard,
    invitation_text,
    promoted_text,
    reminder_keyboard,
    rsvp_payload,
)
from dialogs.haastepaja.seats import answer as record_answer
from dialogs.haastepaja.when import fmt
from dialogs.render.haastepaja import ics
from dialogs.router import Context, Router
from dialogs.store.haastepaja import HaastepajaEvent, Rsvp
from dialogs.ui import esc, rows
from locales.i18n import Translator

router = Router("haastepaja")

CHECKIN_PREFIX = "in_"
CHECKIN_OPENS = 2 * 3600  # seconds before the start
CHECKIN_CLOSES = 3600  # seconds after the end


def closed(event: HaastepajaEvent, now: datetime) -> bool:
    """Answers are taken until the deadline (or the start, without one)."""
    return now >= (event.deadline or event.starts_at)


async def seats(ctx: Context, event: HaastepajaEvent) -> Seats:
    assert event.id is not None
    counts = await ctx.repo.rsvps.counts(event.id)
    return Seats(counts["going"], counts["waitlist"])


async def render_for(
    ctx: Context, event: HaastepajaEvent, rsvp: Rsvp | None, t: Translator | None = None
) -> tuple[str, Keyboard]:
    """The invitation as one person sees it now (their answer, the seats, open or closed)."""
    t = t or ctx.t
    now_closed = closed(event, clock.now())
    taken = await seats(ctx, event)
    status = rsvp.status if rsvp else None
    position = None
    if rsvp is not None and rsvp.status == "waitlist":
        waiting = await ctx.repo.rsvps.of_event(event.id or 0, "waitlist")
        position = next((i for i, r in enumerate(waiting, 1) if r.user_id == rsvp.user_id), None)
    text = invitation_text(t, event, taken, status, position, now_closed)
    return text, invitation_keyboard(t, event, taken, status, now_closed)


@router.button(RsvpButton)
async def rsvp_button(ctx: Context, press: RsvpButton) -> None:
    event_id, reply = press.event, press.answer
    event = await ctx.repo.hp_events.get(event_id, lock=True)
    if event is None:
        ctx.toast(ctx._("This haastepaja no longer exists."), alert=True)
        return
    if reply == "off":
        ctx.user.invitations = False
        ctx.toast(ctx._("Invitations off"))
        ctx.send(
            ctx._(
                "🔕 You will get no more haastepaja invitations. You can turn them back on "
                "in /settings."
            )
        )
        return
    if reply == "d":
        await start_details(ctx, event)
        return
    if reply == "nd":
        ctx.toast()
        ctx.edit(ctx.message_id, ctx._("OK, your name is not put on the attendee list."))
        return
    now = clock.now()
    if event.status == "cancelled":
        ctx.toast(ctx._("This haastepaja has been cancelled."), alert=True)
        return
    if closed(event, now):
        when = fmt(event.deadline or event.starts_at, lang=ctx.lang)
        ctx.toast(ctx._("Signing up closed on {when}.", when=when), alert=True)
        rsvp = await ctx.repo.rsvps.get(event_id, ctx.user.id)
        if reply in ("y", "n"):
            text, keyboard = await render_for(ctx, event, rsvp)
            ctx.edit(ctx.message_id, text, keyboard)
        return
    outcome = await record_answer(
        ctx.repo, event, ctx.user.id, "yes" if reply == "y" else "no", now
    )
    if reply in ("y", "n"):
        outcome.rsvp.message_id = ctx.message_id or outcome.rsvp.message_id
    await ctx.repo.rsvps.put(outcome.rsvp)
    ctx.toast(status_toast(ctx, outcome.status))
    if reply == "x":
        ctx.edit(
            ctx.message_id,
            ctx._("OK, you are no longer coming. Thank you for letting us know."),
        )
        await refresh_invitation(ctx, event, outcome.rsvp)
    else:
        text, keyboard = await render_for(ctx, event, outcome.rsvp)
        ctx.edit(ctx.message_id, text, keyboard)
    if outcome.changed and outcome.status == "going":
        send_calendar(ctx, event)
        ctx.send(
            ctx._(
                "Would you like to be on the attendee list by name? If you say yes, I ask "
                "your name and company. They are stored only for this haastepaja, seen only "
                "by the staff of {operator}, and /forget erases them.",
                operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            ),
            rows(
                [
                    Btn(ctx._("📝 Yes, add my name"), rsvp_payload(event_id, "d")),
                    Btn(ctx._("No thanks"), rsvp_payload(event_id, "nd")),
                ]
            ),
        )
    if outcome.changed and outcome.status == "not_going":
        await ctx.repo.attendees.drop(event_id, ctx.user.id)
    await announce_promotions(ctx, event, outcome.promoted)


def status_toast(ctx: Context, status: str) -> str:
    return {
        "going": ctx._("You're coming!"),
        "waitlist": ctx._("You are on the waitlist."),
        "not_going": ctx._("Thank you for letting us know."),
    }[status]


def send_calendar(ctx: Context, event: HaastepajaEvent, t: Translator | None = None) -> None:
    t = t or ctx.t
    title, _ = event.text("title", t.lang)
    description, _ = event.text("description", t.lang)
    data = ics(
        f"haastepaja-{event.id}@kierto-bot",
        title,
        event.starts_at,
        event.ends_at,
        event.place,
        description,
        event.online_url,
        clock.now(),
    )
    ctx.send_file("document", data, "haastepaja.ics", t._("📅 Add it to your calendar"))


async def refresh_invitation(ctx: Context, event: HaastepajaEvent, rsvp: Rsvp) -> None:
    """Edit the person's invitation to show their current answer (when it is known)."""
    if rsvp.message_id is None:
        return
    user = await ctx.repo.users.get(rsvp.user_id)
    t = ctx.translator(user.locale) if user else ctx.t
    text, keyboard = await render_for(ctx, event, rsvp, t)
    ctx.actions.append(Edit(rsvp.user_id, rsvp.message_id, text, keyboard))


async def announce_promotions(
    ctx: Context, event: HaastepajaEvent, promoted: list[Rsvp], refresh: bool = True
) -> None:
    """Tell each person moved up from the waitlist, in their language; `refresh` also
    edits their invitation (a caller that updates every invitation says False)."""
    for rsvp in promoted:
        user = await ctx.repo.users.get(rsvp.user_id)
        if user is None or user.blocked:
            continue
        t = ctx.translator(user.locale)
        if refresh:
            await refresh_invitation(ctx, event, rsvp)
        deliver.notice(
            ctx,
            rsvp.user_id,
            Send(rsvp.user_id, promoted_text(t, event), reminder_keyboard(t, event)),
        )


async def release_seats(ctx: Context) -> None:
    """Before /forget erases a person: the seats they held go to the waitlist, as if they
    had said no (and the people moved up hear it)."""
    now = clock.now()
    for rsvp in await ctx.repo.rsvps.of_user(ctx.user.id):
        if rsvp.status != "going":
            continue
        event = await ctx.repo.hp_events.get(rsvp.event_id, lock=True)
        if event is None or event.status != "open" or event.starts_at <= now:
            continue
        outcome = await record_answer(ctx.repo, event, ctx.user.id, "no", now)
        await announce_promotions(ctx, event, outcome.promoted)


# ---------------------------------------------------------------------- attendee details


async def start_details(ctx: Context, event: HaastepajaEvent) -> None:
    rsvp = await ctx.repo.rsvps.get(event.id or 0, ctx.user.id)
    if rsvp is None or rsvp.status != "going" or event.status == "cancelled":
        ctx.toast(ctx._("The attendee list is only for those who are coming."), alert=True)
        return
    ctx.toast()
    await ctx.begin("hp_details", str(event.id))


# ---------------------------------------------------------------------- check-in


@router.deeplink
async def check_in(ctx: Context, payload: str) -> bool:
    """`/start in_<token>`: the QR code at the door marks the person present."""
    if not payload.startswith(CHECKIN_PREFIX):
        return False
    token = payload[len(CHECKIN_PREFIX) :]
    event = await ctx.repo.hp_events.by_token(token) if 0 < len(token) <= 24 else None
    if event is None:
        ctx.send(
            ctx._(
                "This check-in link is not valid. Please scan the QR code at the door again, "
                "or ask the organisers."
            )
        )
        return True
    title, _ = event.text("title", ctx.lang)
    now = clock.now()
    if event.status == "cancelled":
        ctx.send(ctx._("The haastepaja <b>{title}</b> has been cancelled.", title=esc(title)))
        return True
    if now.timestamp() > event.ends_at.timestamp() + CHECKIN_CLOSES:
        ctx.send(ctx._("The haastepaja <b>{title}</b> is already over.", title=esc(title)))
        return True
    if now.timestamp() < event.starts_at.timestamp() - CHECKIN_OPENS:
        ctx.send(
            ctx._(
                "This check-in link is for the haastepaja <b>{title}</b> on {when}. Check-in "
                "opens two hours before it starts.",
                title=esc(title),
                when=fmt(event.starts_at, lang=ctx.lang),
            )
        )
        return True
    rsvp = await ctx.repo.rsvps.get(event.id or 0, ctx.user.id)
    if rsvp is None:  # a walk-in: present, and counted as coming
        rsvp = Rsvp(event_id=event.id or 0, user_id=ctx.user.id, status="going", changed_at=now)
    if rsvp.checked_in_at is not None:
        ctx.send(ctx._("You are already checked in to <b>{title}</b>. Welcome!", title=esc(title)))
        return True
    rsvp.checked_in_at = now
    await ctx.repo.rsvps.put(rsvp)
    ctx.send(ctx._("✅ Welcome to <b>{title}</b>! You are checked in.", title=esc(title)))
    return True
