"""The typed steps the haastepaja flows share: a line, an invitation text, a link, a time,
an end, a signup deadline, a number of places.

Each maker returns a step's text handler. It reads and checks what was typed; a bad value
is answered with what is wrong and how to type it, and the flow stays at its step (nothing
typed before is lost); a good one goes to `then(ctx, data, value)`, which stores it and
moves on — the only part that differs between /newevent (dialogs.haastepaja.compose), a
change of time (retime), a change to a saved event (edit) and the attendee list (details).
Times are read as Finns type them (dialogs.haastepaja.when), in Europe/Helsinki.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from dialogs.actions import Btn
from dialogs.flow import ShowHandler, Step, TextHandler
from dialogs.haastepaja import clock
from dialogs.haastepaja.invite import too_long
from dialogs.haastepaja.when import (
    HELSINKI,
    When,
    WhenError,
    fmt,
    parse_deadline,
    parse_end,
    parse_start,
)
from dialogs.router import Context
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import rows
from locales.i18n import LANGUAGE_NAMES

V = TypeVar("V")
Then = Callable[[Context, Any, V], Awaitable[None]]

TITLE_MAX = 120
PLACE_MAX = 300
NAME_MAX = 120
DESCRIPTION_MAX = 3000
CAPACITY_MAX = 10_000
URL_MAX = 500


def when_error(ctx: Context, error: WhenError) -> str:
    """What is wrong with a typed time, and how to type one."""
    example = ctx._(
        "Type it as for example <code>5.2. klo 13</code> or <code>5.2.2027 13:00</code>."
    )
    if error.code == "weekday":
        day = error.details["day"]
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=HELSINKI)  # type: ignore[attr-defined]
        written = f"{day.day}.{day.month}.{day.year}"  # type: ignore[attr-defined]
        problem = ctx._(
            "The weekday does not match the date: {day} is {weekday}.",
            day=written,
            weekday=fmt(noon, lang=ctx.lang).split()[0],
        )
    else:
        problem = {
            "unreadable": ctx._("I could not read that as a date and time."),
            "no_such_date": ctx._("That date does not exist."),
            "no_such_time": ctx._("That time does not exist."),
            "past": ctx._("That moment has already passed."),
            "end_before": ctx._("The end must be after the start."),
            "deadline_after": ctx._("The signup deadline must be before the start."),
        }[error.code]
    return f"⚠️ {problem} {example}"


def line(max_len: int, then: Then[str]) -> TextHandler:
    """One line (runs of spaces and line breaks become one space), at most `max_len`."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        value = " ".join(text.split())
        if len(value) > max_len:
            ctx.send(ctx._("⚠️ Please keep it under {n} characters.", n=max_len))
            return True
        await then(ctx, data, value)
        return True

    return take


def place(then: Then[tuple[str, str]]) -> TextHandler:
    """A place, or a bare link typed as the place (an online event): `then` gets
    (place, link), one of them empty."""

    async def took(ctx: Context, data: Any, value: str) -> None:
        if value.startswith(("https://", "http://")) and " " not in value:
            await then(ctx, data, ("", value))
        else:
            await then(ctx, data, (value, ""))

    return line(PLACE_MAX, took)


def invitation_fits(ctx: Context, event: HaastepajaEvent) -> bool:
    """Does the invitation fit in one Telegram message in every language? If not, say so."""
    for lang in ("fi", "en", "sv"):
        if too_long(ctx.translator(lang), event):
            ctx.send(
                ctx._(
                    "⚠️ The invitation in {lang} is too long for one Telegram message. "
                    "Please shorten its text.",
                    lang=LANGUAGE_NAMES[lang],
                )
            )
            return False
    return True


def description_ok(ctx: Context, text: str) -> bool:
    if len(text) > DESCRIPTION_MAX:
        ctx.send(
            ctx._(
                "⚠️ That is {n} characters; an invitation must fit in one Telegram message. "
                "Please shorten it to at most {max} characters.",
                n=len(text),
                max=DESCRIPTION_MAX,
            )
        )
        return False
    return True


def description(then: Then[str]) -> TextHandler:
    """An invitation text (line breaks kept) that fits in one Telegram message."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        if description_ok(ctx, text.strip()):
            await then(ctx, data, text.strip())
        return True

    return take


def link(then: Then[str]) -> TextHandler:
    """The link to an online meeting (https://…)."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        url = text.strip()
        if not url.startswith("https://") or " " in url or len(url) > URL_MAX:
            ctx.send(ctx._("⚠️ That does not look like a link. It should start with https://"))
            return True
        await then(ctx, data, url)
        return True

    return take


def start(then: Then[When]) -> TextHandler:
    """A start, perhaps with the end (`5.2. 13-15`); never in the past."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        try:
            when = parse_start(text, clock.now())
        except WhenError as error:
            ctx.send(when_error(ctx, error))
            return True
        await then(ctx, data, when)
        return True

    return take


async def ask_end(ctx: Context, data: Any) -> None:
    ctx.send(
        ctx._(
            "When does it end? A time on the same day, like <code>16</code> or "
            "<code>15.30</code>, or a date and time."
        )
    )


def _relative(
    parse: Callable[[str, datetime, datetime], datetime],
    start_of: Callable[[Any], datetime],
    then: Then[datetime],
) -> TextHandler:
    """A time typed relative to the event's start, read by `parse`; a mistake is explained."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        try:
            value = parse(text, start_of(data), clock.now())
        except WhenError as error:
            ctx.send(when_error(ctx, error))
            return True
        await then(ctx, data, value)
        return True

    return take


def end(start_of: Callable[[Any], datetime], then: Then[datetime]) -> TextHandler:
    """An end: a time on the start's day (`16`) or a date and time; after the start."""
    return _relative(parse_end, start_of, then)


def deadline(start_of: Callable[[Any], datetime], then: Then[datetime]) -> TextHandler:
    """A signup deadline: a date (the end of that day) or a date and time; before the start."""
    return _relative(parse_deadline, start_of, then)


def places(no_limit: Callable[[], str], then: Then[int]) -> TextHandler:
    """A number of places, 1 to CAPACITY_MAX; `no_limit()` is the step's No limit button."""

    async def take(ctx: Context, data: Any, text: str) -> bool:
        raw = text.strip()
        if not raw.isdigit() or not 1 <= int(raw) <= CAPACITY_MAX:
            ctx.send(
                ctx._(
                    "⚠️ Type the number of places as digits, from 1 to {max}, for example "
                    "<code>25</code>, or press No limit.",
                    max=CAPACITY_MAX,
                ),
                rows([Btn(ctx._("No limit"), no_limit())]),
            )
            return True
        await then(ctx, data, int(raw))
        return True

    return take


def translations(
    ask_title: Callable[[str], ShowHandler],
    took_title: Callable[[str], Then[str]],
    ask_text: Callable[[str], ShowHandler],
    took_text: Callable[[str], Then[str]],
    then: str,
) -> tuple[Step, ...]:
    """The steps of the English and Swedish versions: `<lang>_t` (the title) and then
    `<lang>_d` (the invitation text), after which the flow goes to `then`."""
    return tuple(
        step
        for lang in ("en", "sv")
        for step in (
            Step(
                f"{lang}_t",
                show=ask_title(lang),
                text=line(TITLE_MAX, took_title(lang)),
                goes=(f"{lang}_d",),
            ),
            Step(
                f"{lang}_d",
                show=ask_text(lang),
                text=description(took_text(lang)),
                goes=(then,),
            ),
        )
    )
