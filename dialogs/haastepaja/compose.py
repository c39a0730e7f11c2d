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
from dialogs.flow import Flow, ShowHandler, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja import fields as f
from dialogs.haastepaja.fields import Then
from dialogs.haastepaja.when import When, fmt, fmt_span
from dialogs.router import Context
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import esc, rows
from locales.i18n import LANGUAGE_NAMES


def steps() -> tuple[Step, ...]:
    """The event's fields, the read-back and the preview; then the audience's steps."""
    from dialogs.haastepaja import audience as a
    from dialogs.haastepaja import preview as p

    return (
        Step(
            "title", show=ask_title, text=f.line(f.TITLE_MAX, took_title), goes=("start", "check")
        ),
        Step("start", show=ask_start, text=f.start(took_start), goes=("end", "place", "check")),
        Step("end", show=f.ask_end, text=f.end(start_of, took_end), goes=("place", "check")),
        Step(
            "place",
            show=ask_place,
            text=f.place(took_place),
            buttons={"online": online},
            goes=("url", "cap", "check"),
        ),
        Step("url", show=ask_url, text=f.link(took_url), goes=("cap", "check")),
        Step(
            "cap",
            show=ask_cap,
            text=f.places(lambda: compose.button("cap", "none"), took_cap),
            buttons={"none": no_cap},
            goes=("dl", "check"),
        ),
        Step(
            "dl",
            show=ask_dl,
            text=f.deadline(start_of, took_dl),
            buttons={"none": no_dl},
            goes=("fi", "check"),
        ),
        Step("fi", show=ask_fi, text=f.description(took_fi), goes=("more", "check")),
        Step(
            "more",
            show=ask_more,
            buttons={"en": add_lang, "sv": add_lang, "done": more_done},
            goes=("en_t", "sv_t", "check"),
        ),
        *f.translations(ask_lang_title, took_lang_title, ask_lang_text, took_lang_text, "more"),
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


async def took_title(ctx: Context, data: Draft, title: str) -> None:
    await compose.next(ctx, replace(data, title=title), "start")


async def ask_start(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "(2/7) When does it start? For example <code>5.2. klo 13</code>, "
            "<code>ti 5.2.2027 13.30</code> or with the end: <code>5.2. 13-15</code>."
        )
    )


def start_of(data: Draft) -> datetime:
    return parsed(data.start)


async def took_start(ctx: Context, data: Draft, when: When) -> None:
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
        await f.ask_end(ctx, data)


async def took_end(ctx: Context, data: Draft, end: datetime) -> None:
    ctx.send(ctx._("🗓 {when}", when=fmt_span(parsed(data.start), end, ctx.lang)))
    await compose.next(ctx, replace(data, end=end.isoformat()), "place")


async def ask_place(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._("(3/7) Where? Type the place, or press Online if it is held online."),
        rows([Btn(ctx._("💻 Online"), compose.button("place", "online"))]),
    )


async def took_place(ctx: Context, data: Draft, where: tuple[str, str]) -> None:
    place, url = where
    await compose.next(ctx, replace(data, place=place, url=url), "cap")


async def online(ctx: Context, data: Draft, value: str) -> None:
    compose.move(ctx, "url", replace(data, place=""))
    await ask_url(ctx, data)


async def ask_url(ctx: Context, data: Draft) -> None:
    ctx.send(ctx._("Type the link to the online meeting (starting with https://)."))


async def took_url(ctx: Context, data: Draft, url: str) -> None:
    await compose.next(ctx, replace(data, url=url), "cap")


async def ask_cap(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._("(4/7) How many people can come? Type a number, or press No limit."),
        rows([Btn(ctx._("No limit"), compose.button("cap", "none"))]),
    )


async def took_cap(ctx: Context, data: Draft, cap: int) -> None:
    await compose.next(ctx, replace(data, cap=cap), "dl")


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


async def took_dl(ctx: Context, data: Draft, deadline: datetime) -> None:
    await compose.next(ctx, replace(data, dl=deadline.isoformat()), "fi")


async def no_dl(ctx: Context, data: Draft, value: str) -> None:
    await compose.next(ctx, replace(data, dl=""), "fi")


async def ask_fi(ctx: Context, data: Draft) -> None:
    ctx.send(
        ctx._(
            "(6/7) Write the invitation text in Finnish: what the haastepaja is about, whose "
            "challenge it is and who should come. At most {n} characters.",
            n=f.DESCRIPTION_MAX,
        )
    )


async def took_fi(ctx: Context, data: Draft, text: str) -> None:
    await compose.next(ctx, replace(data, fi=text), "more")


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


def ask_lang_title(lang: str) -> ShowHandler:
    async def ask(ctx: Context, data: object) -> None:
        ctx.send(ctx._("The title in {lang}:", lang=LANGUAGE_NAMES[lang]))

    return ask


def took_lang_title(lang: str) -> Then[str]:
    async def took(ctx: Context, data: Draft, title: str) -> None:
        data = replace(data, **{f"{lang}_t": title})
        compose.move(ctx, f"{lang}_d", data)
        await compose.table[f"{lang}_d"].show(ctx, data)

    return took


def ask_lang_text(lang: str) -> ShowHandler:
    async def ask(ctx: Context, data: object) -> None:
        ctx.send(ctx._("The invitation text in {lang}:", lang=LANGUAGE_NAMES[lang]))

    return ask


def took_lang_text(lang: str) -> Then[str]:
    async def took(ctx: Context, data: Draft, text: str) -> None:
        data = replace(data, **{lang: text})
        compose.move(ctx, "more", data)
        await ask_more(ctx, data)

    return took


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
    if not f.invitation_fits(ctx, replace_id(event)):
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
