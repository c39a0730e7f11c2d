"""The invitation and the notices, rendered for one recipient's language.

What staff see in the preview is made by these same functions, so the preview is exactly
what each language's recipients get. Button payloads (`rv:<event>:<answer>`) are global:
an invitation stays answerable while the person does other things with the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dialogs.actions import Btn, Keyboard
from dialogs.events import MAX_TEXT
from dialogs.haastepaja.seats import free_seats, is_full
from dialogs.haastepaja.when import fmt, fmt_span
from dialogs.payload import Payload
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import esc
from locales.i18n import Translator

Answer = Literal["y", "n", "x", "off", "d", "nd"]


@dataclass(frozen=True)
class RsvpButton(Payload, prefix="rv"):
    """An invitation's (or a reminder's) button; see dialogs.haastepaja.rsvp."""

    event: int
    answer: Answer


@dataclass(frozen=True)
class Seats:
    going: int = 0
    waitlist: int = 0


def rsvp_payload(event_id: int, answer: Answer) -> str:
    """y (coming) | n (not coming) | x (not after all) | off (no more invitations) |
    d / nd (leave details, or not)."""
    return RsvpButton(event_id, answer).pack()


def place_line(t: Translator, event: HaastepajaEvent) -> str:
    if event.online_url:
        where = t._("Online: {link}", link=esc(event.online_url))
        return f"📍 {esc(event.place)} · {where}" if event.place else f"💻 {where}"
    return f"📍 {esc(event.place)}"


def details(t: Translator, event: HaastepajaEvent, seats: Seats) -> list[str]:
    title, _ = event.text("title", t.lang)
    lines = [
        t._("📣 <b>KIERTO-haastepaja: {title}</b>", title=esc(title)),
        f"🗓 {fmt_span(event.starts_at, event.ends_at, t.lang)}",
        place_line(t, event),
    ]
    if event.capacity is not None:
        free = free_seats(event.capacity, seats.going) or 0
        lines.append(t._("👥 Places: {capacity} ({free} free)", capacity=event.capacity, free=free))
    if event.deadline is not None:
        lines.append(t._("⏳ Answer by {when}", when=fmt(event.deadline, lang=t.lang)))
    return lines


def invitation_text(
    t: Translator,
    event: HaastepajaEvent,
    seats: Seats,
    status: str | None = None,
    position: int | None = None,
    closed: bool = False,
) -> str:
    """The invitation; below it the person's current answer (edited in place)."""
    description, fallback = event.text("description", t.lang)
    parts = ["\n".join(details(t, event, seats)), esc(description)]
    if fallback:
        parts.append(t._("<i>(This invitation is only available in Finnish.)</i>"))
    if event.status == "cancelled":
        parts.append(t._("❌ <b>This haastepaja has been cancelled.</b>"))
    elif status == "going":
        parts.append(t._("✅ Your answer: <b>I'm coming</b>. See you there!"))
    elif status == "waitlist":
        parts.append(
            t._(
                "⏳ Your answer: <b>on the waitlist</b> (number {n}). If a place frees up, "
                "you get it automatically and I will tell you.",
                n=position or "?",
            )
        )
    elif status == "not_going":
        parts.append(t._("Your answer: <b>I can't come</b>. Thank you for letting us know."))
    if closed and event.status != "cancelled":
        parts.append(t._("Signing up has closed."))
    return "\n\n".join(p for p in parts if p)


def invitation_keyboard(
    t: Translator, event: HaastepajaEvent, seats: Seats, status: str | None, closed: bool
) -> Keyboard:
    assert event.id is not None
    off = (Btn(t._("🔕 No more invitations"), rsvp_payload(event.id, "off")),)
    if closed or event.status == "cancelled":
        return (off,)
    yes = t._("✅ I'm coming")
    if status not in ("going", "waitlist") and is_full(event.capacity, seats.going):
        yes = t._("⏳ Full — join the waitlist")
    answer = (
        Btn(yes, rsvp_payload(event.id, "y")),
        Btn(t._("❌ I can't come"), rsvp_payload(event.id, "n")),
    )
    return (answer, off)


def too_long(t: Translator, event: HaastepajaEvent) -> bool:
    """Would this language's invitation pass Telegram's limit (with the longest status)?"""
    text = invitation_text(t, event, Seats(), "waitlist", 999)
    return len(text) > MAX_TEXT


def reminder_text(t: Translator, event: HaastepajaEvent, kind: str) -> str:
    title, _ = event.text("title", t.lang)
    head = (
        t._("⏰ Reminder: the haastepaja <b>{title}</b> is tomorrow.", title=esc(title))
        if kind == "24h"
        else t._(
            "⏰ Reminder: the haastepaja <b>{title}</b> starts in two hours.", title=esc(title)
        )
    )
    return "\n".join(
        [head, f"🗓 {fmt_span(event.starts_at, event.ends_at, t.lang)}", place_line(t, event)]
    )


def reminder_keyboard(t: Translator, event: HaastepajaEvent) -> Keyboard:
    assert event.id is not None
    return ((Btn(t._("❌ I can't come after all"), rsvp_payload(event.id, "x")),),)


def cancelled_text(t: Translator, event: HaastepajaEvent) -> str:
    title, _ = event.text("title", t.lang)
    return t._(
        "❌ The haastepaja <b>{title}</b> on {when} has been cancelled. We are sorry for the "
        "trouble.",
        title=esc(title),
        when=fmt(event.starts_at, lang=t.lang),
    )


def moved_text(t: Translator, event: HaastepajaEvent) -> str:
    title, _ = event.text("title", t.lang)
    return t._(
        "🗓 The time of the haastepaja <b>{title}</b> has changed. New time: {when}. If you "
        "cannot come at the new time, press the button below.",
        title=esc(title),
        when=fmt_span(event.starts_at, event.ends_at, t.lang),
    )


def place_changed_text(t: Translator, event: HaastepajaEvent) -> str:
    title, _ = event.text("title", t.lang)
    return "\n".join(
        [
            t._(
                "📍 The place of the haastepaja <b>{title}</b> has changed. If you cannot come "
                "there, press the button below.",
                title=esc(title),
            ),
            f"🗓 {fmt_span(event.starts_at, event.ends_at, t.lang)}",
            place_line(t, event),
        ]
    )


def promoted_text(t: Translator, event: HaastepajaEvent) -> str:
    title, _ = event.text("title", t.lang)
    return t._(
        "🎉 A place freed up: you are now coming to the haastepaja <b>{title}</b> ({when}). "
        "If you cannot come after all, press the button below.",
        title=esc(title),
        when=fmt_span(event.starts_at, event.ends_at, t.lang),
    )
