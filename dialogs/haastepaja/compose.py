"""/newevent: staff compose a haastepaja and its invitation, step by step.

    title -> start -> end -> place (-> url) -> cap -> dl -> fi -> more (-> en_t, en_d,
    sv_t, sv_d) -> check (read back; any field can be changed) -> [event saved]
    -> preview (each language exactly as recipients see it; "send me a test")
    -> (audience, schedule, confirm: see dialogs.haastepaja.audience)

Every typed value is checked where it is typed, and a bad one is answered with what is
wrong and how to type it; nothing typed before is lost. Times are read as Finns type them
(dialogs.haastepaja.when) in Europe/Helsinki and stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dialogs.actions import Btn, Keyboard
from dialogs.flow import Flow, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja.invite import too_long
from dialogs.haastepaja.when import (
    HELSINKI,
    WhenError,
    fmt,
    fmt_span,
    parse_deadline,
    parse_end,
    parse_start,
)
from dialogs.router import Context
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import esc, rows
from locales.i18n import LANGUAGE_NAMES


def steps() -> tuple[Step, ...]:
    """The event's fields, the read-back and the preview; then the audience's steps."""
    from dialogs.haastepaja import audience as a
    from dialogs.haastepaja import preview as p

    return (
        Step("title", show=ask_title, text=take_title, goes=("start", "check")),
        Step("start", show=ask_start, text=take_start, goes=("end", "place", "check")),
        Step("end", show=ask_end, text=take_end, goes=("place", "check")),
        Step(
            "place",
            show=ask_place,
            text=take_place,
            buttons={"online": online},
            goes=("url", "cap", "check"),
        ),
        Step("url", show=ask_url, text=take_url, goes=("cap", "check")),
        Step("cap", show=ask_cap, text=take_cap, buttons={"none": no_cap}, goes=("dl", "check")),
        Step("dl", show=ask_dl, text=take_dl, buttons={"none": no_dl}, goes=("fi", "check")),
        Step("fi", show=ask_fi, text=take_fi, goes=("more", "check")),
        Step(
            "more",
            show=ask_more,
            buttons={"en": add_lang, "sv": add_lang, "done": more_done},
            goes=("en_t", "sv_t", "check"),
        ),
        Step("en_t", show=ask_lang_title("en"), text=take_lang_title("en"), goes=("en_d",)),
        Step("en_d", show=ask_lang_text("en"), text=take_lang_text("en"), goes=("more",)),
        Step("sv_t", show=ask_lang_title("sv"), text=take_lang_title("sv"), goes=("sv_d",)),
        Step("sv_d", show=ask_lang_text("sv"), text=take_lang_text("sv"), goes=("more",)),
        Step(
            "check",
            show=show_check,
            buttons={"ok": save, "e.*": change_field},
            goes=(*FIELDS, "preview"),
        ),
        Step(
            "preview",
            show=p.show_preview,
            buttons={"noop": p.preview_noop, "test": p.send_test, "go": p.to_audience},
            goes=("seg",),
        ),
        *a.steps(),
    )


TITLE_MAX = 120
PLACE_MAX = 300
DESCRIPTION_MAX = 3000
CAPACITY_MAX = 10_000


@dataclass(frozen=True)
class Draft:
    """The event being composed; times are ISO strings in UTC."""

    event: int | None = None  # the saved event (from the read-back on)
    title: str = ""
    start: str = ""
    end: str = ""
    place: str = ""
    url: str = ""
    cap: int | None = None
    dl: str = ""
    fi: str = ""
    en_t: str = ""
    en: str = ""
    sv_t: str = ""
    sv: str = ""
    editing: bool = False  # changing one field from the read-back: return there after it
    who: str = "all"
    ind: tuple[str, ...] = ()
    size: tuple[str, ...] = ()
    lvl: tuple[str, ...] = ()
    weak: str = ""
    tags: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    at: str = ""  # when to send; "" = now


def when_error(ctx: Context, error: WhenError) -> str:
    example = ctx._(
        "Type it as for example <code>5.2. klo 13</code> or <code>5.2.2027 13:00</code>."
    )
    if error.code == "weekday":
        day = error.details["day"]
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=HELSINKI)
        written = f"{day.day}.{day.month}.{day.year}"
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


def parsed(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def as_event(data: Draft, created_by: int, token: str) -> HaastepajaEvent:
    title = {"fi": data.title}
    description = {"fi": data.fi}
    for lang in ("en", "sv"):
        if getattr(data, lang):
            title[lang] = getattr(data, f"{lang}_t") or data.title
            description[lang] = getattr(data, lang)
    return HaastepajaEvent(
        title=title,
        description=description,
        starts_at=parsed(data.start),
        ends_at=parsed(data.end),
        place=data.place,
        online_url=data.url or None,
        capacity=data.cap,
        deadline=parsed(data.dl) if data.dl else None,
        token=token,
        created_by=created_by,
    )


class Compose(Flow[Draft]):
    name = "hp_compose"
    prefix = "hpc"
    Data = Draft
    entries = ("title", "preview")

    def move(self, ctx: Context, step: str, data: Draft) -> None:
        """Go to `step` of this flow with `data` written back."""
        ctx.go(self.name, step, data)

    async def begin(self, ctx: Context, arg: str = "") -> None:
        self.move(ctx, "title", Draft())
        await ask_title(ctx, Draft())

    async def next(self, ctx: Context, data: Draft, step: str) -> None:
        """Go on to `step`, or back to the read-back when one field was being changed."""
        if data.editing and step not in ("end", "url", "en_d", "sv_d"):
            step = "check"
            data = replace(data, editing=False)
        self.move(ctx, step, data)
        await self.table[step].show(ctx, data)

    async def invite_more(self, ctx: Context, event: HaastepajaEvent) -> None:
        """From an event's card: straight to the preview of a saved event."""
        data = Draft(event=event.id)
        self.move(ctx, "preview", data)
        await self.table["preview"].show(ctx, data)


# ---------------------------------------------------------------------- the steps


async def ask_title(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "📣 <b>New haastepaja</b> (1/7)\nWhat is the title? In Finnish; English and Swedish "
            "versions can be added at the end. /cancel stops."
        )
    )


async def take_title(ctx: Context, data: Draft, text: str) -> bool:
    title = " ".join(text.split())
    if len(title) > TITLE_MAX:
        ctx.send(ctx._("⚠️ Please keep the title under {n} characters.", n=TITLE_MAX))
        return True
    await compose.next(ctx, replace(data, title=title), "start")
    return True


async def ask_start(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "(2/7) When does it start? For example <code>5.2. klo 13</code>, "
            "<code>ti 5.2.2027 13.30</code> or with the end: <code>5.2. 13-15</code>."
        )
    )


async def take_start(ctx: Context, data: Draft, text: str) -> bool:
    try:
        when = parse_start(text, clock.now())
    except WhenError as error:
        ctx.send(when_error(ctx, error))
        return True
    data = replace(data, start=when.start.isoformat())
    if data.end and not when.end and parsed(data.end) <= when.start:
        data = replace(data, end="")  # the old end no longer fits: ask it again
    if when.end:
        data = replace(data, end=when.end.isoformat())
        ctx.send(ctx._("🗓 {when}", when=fmt_span(when.start, when.end, ctx.lang)))
        await compose.next(ctx, data, "place")
    elif data.editing and data.end:
        await compose.next(ctx, data, "place")
    else:
        ctx.send(ctx._("🗓 Starts {when}", when=fmt(when.start, lang=ctx.lang)))
        compose.move(ctx, "end", data)
        await ask_end(ctx, data)
    return True


async def ask_end(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "When does it end? A time on the same day, like <code>16</code> or "
            "<code>15.30</code>, or a date and time."
        )
    )


async def take_end(ctx: Context, data: Draft, text: str) -> bool:
    try:
        end = parse_end(text, parsed(data.start), clock.now())
    except WhenError as error:
        ctx.send(when_error(ctx, error))
        return True
    ctx.send(ctx._("🗓 {when}", when=fmt_span(parsed(data.start), end, ctx.lang)))
    await compose.next(ctx, replace(data, end=end.isoformat()), "place")
    return True


async def ask_place(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._("(3/7) Where? Type the place, or press Online if it is held online."),
        rows([Btn(ctx._("💻 Online"), compose.button("place", "online"))]),
    )


async def take_place(ctx: Context, data: Draft, text: str) -> bool:
    place = " ".join(text.split())
    if len(place) > PLACE_MAX:
        ctx.send(ctx._("⚠️ Please keep the place under {n} characters.", n=PLACE_MAX))
        return True
    if place.startswith(("https://", "http://")) and " " not in place:
        await compose.next(ctx, replace(data, place="", url=place), "cap")
        return True
    await compose.next(ctx, replace(data, place=place, url=""), "cap")
    return True


async def online(ctx: Context, data: Draft, value: str) -> None:
    compose.move(ctx, "url", replace(data, place=""))
    await ask_url(ctx, data)


async def ask_url(ctx: Context, data: Draft) -> None:
    ctx.send(ctx._("Type the link to the online meeting (starting with https://)."))


async def take_url(ctx: Context, data: Draft, text: str) -> bool:
    url = text.strip()
    if not url.startswith("https://") or " " in url or len(url) > 500:
        ctx.send(ctx._("⚠️ That does not look like a link. It should start with https://"))
        return True
    await compose.next(ctx, replace(data, url=url, editing=data.editing), "cap")
    return True


async def ask_cap(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._("(4/7) How many people can come? Type a number, or press No limit."),
        rows([Btn(ctx._("No limit"), compose.button("cap", "none"))]),
    )


async def take_cap(ctx: Context, data: Draft, text: str) -> bool:
    raw = text.strip()
    if not raw.isdigit() or not 1 <= int(raw) <= CAPACITY_MAX:
        ctx.send(
            ctx._(
                "⚠️ Type the number of places as digits, from 1 to {max}, for example "
                "<code>25</code>, or press No limit.",
                max=CAPACITY_MAX,
            ),
            rows([Btn(ctx._("No limit"), compose.button("cap", "none"))]),
        )
        return True
    await compose.next(ctx, replace(data, cap=int(raw)), "dl")
    return True


async def no_cap(ctx: Context, data: Draft, value: str) -> None:
    await compose.next(ctx, replace(data, cap=None), "dl")


async def ask_dl(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "(5/7) Until when can people sign up? A date (<code>3.2.</code>) or a date and "
            "time, or press No deadline: then answers are taken until the start."
        ),
        rows([Btn(ctx._("No deadline"), compose.button("dl", "none"))]),
    )


async def take_dl(ctx: Context, data: Draft, text: str) -> bool:
    try:
        deadline = parse_deadline(text, parsed(data.start), clock.now())
    except WhenError as error:
        ctx.send(when_error(ctx, error))
        return True
    await compose.next(ctx, replace(data, dl=deadline.isoformat()), "fi")
    return True


async def no_dl(ctx: Context, data: Draft, value: str) -> None:
    await compose.next(ctx, replace(data, dl=""), "fi")


async def ask_fi(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "(6/7) Write the invitation text in Finnish: what the haastepaja is about, whose "
            "challenge it is and who should come. At most {n} characters.",
            n=DESCRIPTION_MAX,
        )
    )


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


async def take_fi(ctx: Context, data: Draft, text: str) -> bool:
    if description_ok(ctx, text.strip()):
        await compose.next(ctx, replace(data, fi=text.strip()), "more")
    return True


async def ask_more(ctx: Context, data: Draft) -> None:
    have = [LANGUAGE_NAMES["fi"]] + [LANGUAGE_NAMES[x] for x in ("en", "sv") if getattr(data, x)]
    ctx.send(
        ctx._(
            "(7/7) Languages so far: {langs}. Add an English or Swedish version? Without one, "
            "people using that language get the Finnish text with a note.",
            langs=", ".join(have),
        ),
        rows(
            [
                Btn(ctx._("➕ English"), compose.button("more", "en")),
                Btn(ctx._("➕ Swedish"), compose.button("more", "sv")),
                Btn(ctx._("➡️ Done"), compose.button("more", "done")),
            ]
        ),
    )


async def add_lang(ctx: Context, data: Draft, value: str) -> None:
    step = f"{value}_t"
    compose.move(ctx, step, data)
    await compose.table[step].show(ctx, data)


async def more_done(ctx: Context, data: Draft, value: str) -> None:
    await compose.next(ctx, replace(data, editing=False), "check")


def ask_lang_title(lang: str):
    async def ask(ctx: Context, data: Draft) -> None:
        ctx.send(ctx._("The title in {lang}:", lang=LANGUAGE_NAMES[lang]))

    return ask


def take_lang_title(lang: str):
    async def take(ctx: Context, data: Draft, text: str) -> bool:
        title = " ".join(text.split())
        if len(title) > TITLE_MAX:
            ctx.send(ctx._("⚠️ Please keep the title under {n} characters.", n=TITLE_MAX))
            return True
        data = replace(data, **{f"{lang}_t": title})
        compose.move(ctx, f"{lang}_d", data)
        await compose.table[f"{lang}_d"].show(ctx, data)
        return True

    return take


def ask_lang_text(lang: str):
    async def ask(ctx: Context, data: Draft) -> None:
        ctx.send(ctx._("The invitation text in {lang}:", lang=LANGUAGE_NAMES[lang]))

    return ask


def take_lang_text(lang: str):
    async def take(ctx: Context, data: Draft, text: str) -> bool:
        if description_ok(ctx, text.strip()):
            data = replace(data, **{lang: text.strip()})
            compose.move(ctx, "more", data)
            await ask_more(ctx, data)
        return True

    return take


# ---------------------------------------------------------------------- read back


FIELDS = ("title", "start", "place", "cap", "dl", "fi", "more")


async def show_check(ctx: Context, data: Draft) -> None:
    start, end = parsed(data.start), parsed(data.end)
    lines = [
        ctx._("📋 <b>Please check</b>"),
        ctx._("Title: {v}", v=esc(data.title)),
        ctx._("Time: {v}", v=fmt_span(start, end, ctx.lang)),
        ctx._("Place: {v}", v=esc(data.place or "") + (f" 💻 {esc(data.url)}" if data.url else "")),
        ctx._("Places: {v}", v=data.cap if data.cap is not None else ctx._("no limit")),
        ctx._(
            "Sign up by: {v}",
            v=fmt(parsed(data.dl), lang=ctx.lang) if data.dl else ctx._("until the start"),
        ),
        ctx._(
            "Languages: {v}",
            v=", ".join(
                LANGUAGE_NAMES[x] for x in ("fi", "en", "sv") if x == "fi" or getattr(data, x)
            ),
        ),
    ]
    labels = {
        "title": ctx._("✏️ Title"),
        "start": ctx._("✏️ Time"),
        "place": ctx._("✏️ Place"),
        "cap": ctx._("✏️ Places"),
        "dl": ctx._("✏️ Deadline"),
        "fi": ctx._("✏️ Finnish text"),
        "more": ctx._("✏️ Languages"),
    }
    keyboard: Keyboard = (
        (Btn(ctx._("✅ Correct: save and preview"), compose.button("check", "ok")),),
        *rows([Btn(labels[f], compose.button("check", f"e.{f}")) for f in FIELDS], 3),
    )
    ctx.send("\n".join(lines), keyboard)


async def change_field(ctx: Context, data: Draft, value: str) -> None:
    if value not in FIELDS:
        ctx.invalid_button()
        return
    data = replace(data, editing=value != "more")
    compose.move(ctx, value, data)
    await compose.table[value].show(ctx, data)


async def save(ctx: Context, data: Draft, value: str) -> None:
    from dialogs.haastepaja.staff import new_token
    from dialogs.haastepaja.when import reminder_times

    now = clock.now()
    if parsed(data.start) <= now:
        ctx.send(ctx._("⚠️ The start time has passed meanwhile. Please give a new time."))
        data = replace(data, editing=True)
        compose.move(ctx, "start", data)
        await ask_start(ctx, data)
        return
    event = as_event(data, ctx.user.id, new_token())
    event.remind_24h_at, event.remind_2h_at = reminder_times(event.starts_at, now)
    for lang in ("fi", "en", "sv"):
        if too_long(ctx.translator(lang), replace_id(event)):
            ctx.send(
                ctx._(
                    "⚠️ The invitation in {lang} is too long for one Telegram message. "
                    "Please shorten its text.",
                    lang=LANGUAGE_NAMES[lang],
                )
            )
            await show_check(ctx, data)
            return
    await ctx.repo.hp_events.add(event)
    ctx.repo.audit.log("event_create", f"haastepaja:{event.id}", ctx.user.id)
    data = replace(data, event=event.id)
    compose.move(ctx, "preview", data)
    await compose.table["preview"].show(ctx, data)


def replace_id(event: HaastepajaEvent) -> HaastepajaEvent:
    """A copy with a placeholder id, to render before the event is saved."""
    copy = HaastepajaEvent(**{k: getattr(event, k) for k in HaastepajaEvent.model_fields})
    copy.id = copy.id or 999_999_999
    return copy


compose = Compose(steps())
