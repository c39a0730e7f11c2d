"""Staff's view of the haastepajat: `/events`, one event's live counts, and what to do.

`/events` lists upcoming and past events; each opens a card (`hpe:<id>:open`) with live
counts — invited, delivered, blocked, unknown, queued; going, waitlist, not going, checked
in — and buttons for the attendee list (CSV, XLSX), the check-in QR code, inviting more
people, a change of time (dialogs.haastepaja.retime), a change of texts, place, places or
deadline (dialogs.haastepaja.edit) and cancelling. Only staff, coordinators and ADMIN_IDS pass.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from dialogs.actions import Btn
from dialogs.haastepaja import clock, deliver
from dialogs.haastepaja.changes import tell_people, update_invitations
from dialogs.haastepaja.invite import cancelled_text
from dialogs.haastepaja.retime import updated_line
from dialogs.haastepaja.rsvp import CHECKIN_PREFIX
from dialogs.haastepaja.when import fmt, fmt_span
from dialogs.payload import Payload
from dialogs.render.haastepaja import AttendeeRow, attendees_csv, attendees_xlsx, qr_png
from dialogs.router import CommandInfo, Context, Router
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import esc, rows
from locales.i18n import N_

router = Router("haastepaja-staff")
ACTIONS = ("open", "csv", "xlsx", "qr", "cx", "cxy", "cxn", "inv", "time", "edit")
# on one broadcast, `<action>.<broadcast id>`: cancel a scheduled one; pause, resume or
# stop a running one
BROADCAST_ACTIONS = ("bcx.", "bps.", "brs.", "bst.")
STATUS_NAMES = {
    "going": N_("coming"),
    "waitlist": N_("waitlist"),
    "not_going": N_("not coming"),
}


def is_staff(ctx: Context) -> bool:
    return ctx.has_role("staff") or ctx.has_role("coordinator")


def refuse(ctx: Context) -> None:
    ctx.send(ctx._("That command is for the programme's staff. /help lists what I can do for you."))


def new_token() -> str:
    return secrets.token_urlsafe(9)  # 12 characters of [A-Za-z0-9_-]: fits a deep link


@dataclass(frozen=True)
class CardButton(Payload, prefix="hpe"):
    """A button on an event's card (or the /events list): `action` is one of `ACTIONS`,
    or `bcx.<broadcast id>` (cancel a scheduled broadcast)."""

    event: int
    action: str


def card_payload(event_id: int, action: str) -> str:
    return CardButton(event_id, action).pack()


def checkin_link(ctx: Context, event: HaastepajaEvent) -> str | None:
    username = ctx.services.bot_username
    if not username:
        return None
    return f"https://t.me/{username}?start={CHECKIN_PREFIX}{event.token}"


# Listed in the staff's /help and menu; each checks the role itself, because staff *or*
# coordinators may use them (a command's own role gate admits one role).
router.help += [
    CommandInfo("events", N_("haastepaja events: counts, attendee lists, check-in QR"), "staff"),
    CommandInfo("newevent", N_("create a haastepaja and invite people"), "staff"),
]


@router.command("events", "tapahtumat")
async def events(ctx: Context, args: str) -> None:
    if not is_staff(ctx):
        refuse(ctx)
        return
    now = clock.now()
    upcoming = await ctx.repo.hp_events.listing(now, upcoming=True)
    past = await ctx.repo.hp_events.listing(now, upcoming=False, limit=5)
    if not upcoming and not past:
        ctx.send(ctx._("No haastepaja events yet. /newevent creates one."))
        return
    lines = [ctx._("📣 <b>Haastepaja events</b>")]
    buttons = []
    for heading, listed in ((ctx._("Upcoming:"), upcoming), (ctx._("Past:"), past)):
        if not listed:
            continue
        lines.append(f"\n<b>{heading}</b>")
        for event in listed:
            title, _ = event.text("title", ctx.lang)
            counts = await ctx.repo.rsvps.counts(event.id or 0)
            mark = " ❌" if event.status == "cancelled" else ""
            lines.append(
                ctx._(
                    "#{id} {title}{mark} — {when} · coming {going}",
                    id=event.id,
                    title=esc(title),
                    mark=mark,
                    when=fmt(event.starts_at, lang=ctx.lang),
                    going=counts["going"],
                )
            )
            buttons.append(Btn(f"#{event.id} {title}"[:60], card_payload(event.id or 0, "open")))
    lines.append("\n" + ctx._("/newevent creates a new one."))
    ctx.send("\n".join(lines), rows(buttons))


async def delivery_counts(ctx: Context, event_id: int) -> dict[str, int]:
    total = dict.fromkeys(deliver.STATUSES, 0)
    for broadcast in await ctx.repo.broadcasts.of_event(event_id):
        for status, n in (await deliver.counts(ctx.repo, broadcast.id or 0)).items():
            total[status] += n
    return total


async def card_text(ctx: Context, event: HaastepajaEvent) -> str:
    assert event.id is not None
    title, _ = event.text("title", ctx.lang)
    rsvps = await ctx.repo.rsvps.counts(event.id)
    sent = await delivery_counts(ctx, event.id)
    place = esc(event.place) + (f" · {esc(event.online_url)}" if event.online_url else "")
    lines = [
        f"📣 <b>{esc(title)}</b> (#{event.id})",
        f"🗓 {fmt_span(event.starts_at, event.ends_at, ctx.lang)}",
        f"📍 {place}",
    ]
    if event.status == "cancelled":
        lines.append(ctx._("❌ Cancelled"))
    lines.append(
        ctx._(
            "Invitations: invited {invited}, delivered {sent}, blocked {blocked}, unknown "
            "{unknown}, failed {failed}, still queued {queued}",
            invited=sum(sent.values()),
            sent=sent["sent"],
            blocked=sent["blocked"],
            unknown=sent["unknown"],
            failed=sent["failed"],
            queued=sent["pending"] + sent["sending"] + sent["paused"],
        )
    )
    capacity = f"/{event.capacity}" if event.capacity is not None else ""
    lines.append(
        ctx._(
            "Answers: coming {going}{capacity}, waitlist {waitlist}, not coming {no}, "
            "checked in {checked}",
            going=rsvps["going"],
            capacity=capacity,
            waitlist=rsvps["waitlist"],
            no=rsvps["not_going"],
            checked=rsvps["checked_in"],
        )
    )
    for broadcast in await ctx.repo.broadcasts.of_event(event.id):
        if broadcast.status == "scheduled":
            lines.append(
                ctx._(
                    "⏱ Broadcast #{id} scheduled for {when}",
                    id=broadcast.id,
                    when=fmt(broadcast.send_at, lang=ctx.lang),
                )
            )
    code = CHECKIN_PREFIX + event.token
    lines.append(ctx._("Check-in: /start {code}", code=code))
    return "\n".join(lines)


def card_keyboard(ctx: Context, event: HaastepajaEvent, broadcasts: list[tuple[int, str]]) -> tuple:
    eid = event.id or 0
    buttons = [
        Btn(ctx._("🔄 Refresh"), card_payload(eid, "open")),
        Btn(ctx._("👥 Attendees (CSV)"), card_payload(eid, "csv")),
        Btn(ctx._("👥 Attendees (XLSX)"), card_payload(eid, "xlsx")),
        Btn(ctx._("🔳 Check-in QR code"), card_payload(eid, "qr")),
    ]
    if event.status == "open" and event.starts_at > clock.now():
        buttons += [
            Btn(ctx._("📣 Invite people"), card_payload(eid, "inv")),
            Btn(ctx._("🗓 Change the time"), card_payload(eid, "time")),
            Btn(ctx._("✏️ Change texts, place, places"), card_payload(eid, "edit")),
            Btn(ctx._("❌ Cancel the event"), card_payload(eid, "cx")),
        ]
    for broadcast_id, status in broadcasts:
        if status == "scheduled":
            label, action = ctx._("⏹ Cancel scheduled broadcast #{id}", id=broadcast_id), "bcx"
            buttons.append(Btn(label, card_payload(eid, f"{action}.{broadcast_id}")))
        if status == "sending":
            label = ctx._("⏸ Pause broadcast #{id}", id=broadcast_id)
            buttons.append(Btn(label, card_payload(eid, f"bps.{broadcast_id}")))
        if status == "paused":
            label = ctx._("▶️ Resume broadcast #{id}", id=broadcast_id)
            buttons.append(Btn(label, card_payload(eid, f"brs.{broadcast_id}")))
        if status in ("sending", "paused"):
            label = ctx._("⏹ Stop broadcast #{id}", id=broadcast_id)
            buttons.append(Btn(label, card_payload(eid, f"bst.{broadcast_id}")))
    return rows(buttons, 2)


async def show_card(ctx: Context, event: HaastepajaEvent, edit: bool = False) -> None:
    broadcasts = [(b.id or 0, b.status) for b in await ctx.repo.broadcasts.of_event(event.id or 0)]
    text, keyboard = await card_text(ctx, event), card_keyboard(ctx, event, broadcasts)
    if edit:
        ctx.edit(ctx.message_id, text, keyboard)
    else:
        ctx.send(text, keyboard)


@router.button(CardButton)
async def card_button(ctx: Context, press: CardButton) -> None:
    action = press.action
    if not is_staff(ctx):
        ctx.invalid_button()
        return
    event = await ctx.repo.hp_events.get(press.event)
    if event is None or not (action in ACTIONS or action[:4] in BROADCAST_ACTIONS):
        ctx.invalid_button()
        return
    ctx.toast()
    if action == "open":
        await show_card(ctx, event, edit=True)
    elif action in ("csv", "xlsx"):
        await export(ctx, event, action)
    elif action == "qr":
        link = checkin_link(ctx, event)
        code = f"/start {CHECKIN_PREFIX}{event.token}"
        if link is None:
            ctx.send(
                ctx._(
                    "The QR code needs the bot's username (BOT_USERNAME in the settings). "
                    "Meanwhile people can check in by sending: {code}",
                    code="<code>" + code + "</code>",
                )
            )
        else:
            ctx.send_file(
                "photo",
                qr_png(link),
                "check-in.png",
                ctx._(
                    "Check-in for this haastepaja: print it or show it at the door. {link}",
                    link=link,
                ),
            )
    elif action == "cx":
        counts = await ctx.repo.rsvps.counts(event.id or 0)
        ctx.send(
            ctx.n_(
                "Cancel this haastepaja? The {n} person coming or on the waitlist gets a "
                "message, and the invitations already sent say it is cancelled.",
                "Cancel this haastepaja? The {n} people coming or on the waitlist get a "
                "message, and the invitations already sent say it is cancelled.",
                counts["going"] + counts["waitlist"],
            ),
            rows(
                [
                    Btn(ctx._("❌ Yes, cancel it"), card_payload(event.id or 0, "cxy")),
                    Btn(ctx._("No, keep it"), card_payload(event.id or 0, "cxn")),
                ],
                2,
            ),
        )
    elif action == "cxy":
        await cancel_event(ctx, event)
    elif action == "cxn":
        ctx.edit(ctx.message_id, ctx._("The event was not cancelled."))
    elif action == "inv":
        from dialogs.haastepaja.compose import compose

        await compose.invite_more(ctx, event)
    elif action == "time":
        from dialogs.haastepaja.retime import retime

        await retime.begin(ctx, str(event.id))
    elif action == "edit":
        await edit_flow.begin(ctx, str(event.id))
    else:
        await broadcast_action(ctx, event, action)


async def broadcast_action(ctx: Context, event: HaastepajaEvent, action: str) -> None:
    kind, _, bid = action.partition(".")
    broadcast = await ctx.repo.broadcasts.get(int(bid)) if bid.isdigit() else None
    if broadcast is None or broadcast.event_id != event.id:
        ctx.invalid_button()
        return
    wanted = {"bcx": ("scheduled",), "bps": ("sending",), "brs": ("paused",)}
    if broadcast.status not in wanted.get(kind, ("sending", "paused")):
        ctx.send(ctx._("That broadcast has already moved on; here is where it is now."))
        await show_card(ctx, event)
        return
    if kind == "bcx":
        broadcast.status = "cancelled"
        ctx.send(ctx._("Broadcast #{id} cancelled: nothing was sent.", id=broadcast.id))
    elif kind == "bps":
        broadcast.status = "paused"
        held = await deliver.pause(ctx.repo, broadcast.id or 0)
        ctx.send(
            ctx.n_(
                "⏸ Broadcast #{id} paused: {n} invitation waits.",
                "⏸ Broadcast #{id} paused: {n} invitations wait.",
                held,
                id=broadcast.id,
            )
        )
    elif kind == "brs":
        broadcast.status = "sending"
        await deliver.resume(ctx.repo, broadcast.id or 0)
        ctx.send(ctx._("▶️ Broadcast #{id} continues.", id=broadcast.id))
    else:
        broadcast.status = "cancelled"
        stopped = await deliver.stop(ctx.repo, broadcast.id or 0)
        ctx.send(
            ctx.n_(
                "⏹ Broadcast #{id} stopped: {n} invitation was not sent.",
                "⏹ Broadcast #{id} stopped: {n} invitations were not sent.",
                stopped,
                id=broadcast.id,
            )
        )
    ctx.repo.audit.log(f"broadcast_{kind}", f"haastepaja:{event.id}", ctx.user.id)
    await show_card(ctx, event)


async def cancel_event(ctx: Context, event: HaastepajaEvent) -> None:
    """Cancel once; everyone coming or waiting hears it in their language, and the
    invitations already sent are edited to say it is cancelled."""
    if event.status == "cancelled":
        ctx.send(ctx._("This event was already cancelled."))
        return
    event.status, event.updated_at = "cancelled", clock.now()
    event.remind_24h_at = event.remind_2h_at = None
    for broadcast in await ctx.repo.broadcasts.of_event(event.id or 0):
        if broadcast.status == "scheduled":
            broadcast.status = "cancelled"
    queued = await tell_people(ctx.repo, ctx.translator, event, lambda t: cancelled_text(t, event))
    edited = await update_invitations(ctx.repo, ctx.translator, event)
    ctx.repo.audit.log("event_cancel", f"haastepaja:{event.id}", ctx.user.id)
    ctx.edit(
        ctx.message_id,
        ctx.n_(
            "❌ Cancelled. A message to {n} person is queued.",
            "❌ Cancelled. Messages to {n} people are queued.",
            queued,
        )
        + " "
        + updated_line(ctx, edited),
    )


async def export(ctx: Context, event: HaastepajaEvent, kind: str) -> None:
    """The attendee list: everyone who answered yes or waits; names only if they agreed."""
    assert event.id is not None
    details = await ctx.repo.attendees.of_event(event.id)
    table = []
    for status in ("going", "waitlist"):
        for rsvp in await ctx.repo.rsvps.of_event(event.id, status):
            d = details.get(rsvp.user_id)
            table.append(
                AttendeeRow(
                    status=ctx._(STATUS_NAMES[status]),
                    name=d.name if d else "",
                    company=d.company if d else "",
                    checked_in=ctx.t.datetime(rsvp.checked_in_at) if rsvp.checked_in_at else "",
                    answered=ctx.t.datetime(rsvp.changed_at),
                )
            )
    header = (
        ctx._("Status"),
        ctx._("Name"),
        ctx._("Company"),
        ctx._("Checked in"),
        ctx._("Answered"),
    )
    title, _ = event.text("title", ctx.lang)
    if kind == "csv":
        data, name = attendees_csv(header, table), f"haastepaja-{event.id}.csv"
    else:
        data, name = attendees_xlsx(title, header, table), f"haastepaja-{event.id}.xlsx"
    ctx.repo.audit.log("export", f"haastepaja:{event.id}", ctx.user.id)
    caption = ctx.n_(
        "Attendee list: {n} person (names only of those who agreed to share them)",
        "Attendee list: {n} people (names only of those who agreed to share them)",
        len(table),
    )
    ctx.send_file("document", data, name, caption)


@router.command("newevent", "uusitapahtuma")
async def new_event(ctx: Context, args: str) -> None:
    if not is_staff(ctx):
        refuse(ctx)
        return
    if not ctx.event.sender.is_private:
        ctx.send(ctx._("Please create events in a private chat with me."))
        return
    await compose.begin(ctx)


# the flows this module opens (declared in their own modules)
from dialogs.haastepaja.compose import compose  # noqa: E402
from dialogs.haastepaja.details import details_flow  # noqa: E402
from dialogs.haastepaja.edit import edit_flow  # noqa: E402
from dialogs.haastepaja.retime import retime  # noqa: E402

for _flow in (compose, details_flow, retime, edit_flow):
    router.flow(_flow)
