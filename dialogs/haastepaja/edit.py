"""Change a saved event from its card: the texts (fi/en/sv), the place, the number of
places and the signup deadline. (The time has its own flow, dialogs.haastepaja.retime.)

    menu -> title | fi | en_t -> en_d | sv_t -> sv_d | place (-> url) | cap | dl
         -> confirm (the change and what it will do) -> [saved] -> menu -> done (the card)

Each change is read back with what it will do before it is saved, and then:
- every invitation already delivered is edited in place to show it
  (dialogs.haastepaja.changes.update_invitations);
- a new place reaches everyone coming or on the waitlist (changes.tell_people);
- more places (or no limit) move people up from the waitlist, first come first served,
  each told in their language; fewer places never take a place from anyone already
  coming: the waitlist waits until fewer are coming than the new number.

The typed values are checked by the same step shapes as /newevent's
(dialogs.haastepaja.fields); nothing is saved until "Save" is pressed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dialogs.actions import Btn
from dialogs.flow import END, Flow, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja import fields as f
from dialogs.haastepaja.changes import invitations_out, tell_people, update_invitations
from dialogs.haastepaja.compose import ask_lang_text, ask_lang_title, ask_url
from dialogs.haastepaja.fields import Then
from dialogs.haastepaja.invite import place_changed_text
from dialogs.haastepaja.retime import updated_line
from dialogs.haastepaja.rsvp import announce_promotions
from dialogs.haastepaja.seats import promote
from dialogs.haastepaja.when import fmt
from dialogs.router import Context
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.ui import esc, rows
from locales.i18n import LANGUAGE_NAMES

FIELDS = ("title", "fi", "en", "sv", "place", "cap", "dl")


def steps() -> tuple[Step, ...]:
    return (
        Step(
            "menu",
            show=show_menu,
            buttons={"f.*": pick, "done": done},
            goes=("title", "fi", "en_t", "sv_t", "place", "cap", "dl", END),
        ),
        Step("title", show=ask_title, text=f.line(f.TITLE_MAX, took_title), goes=("confirm",)),
        Step("fi", show=ask_fi, text=f.description(took_text), goes=("confirm",)),
        *f.translations(
            ask_lang_title, took_lang_title, ask_lang_text, lambda _: took_text, "confirm"
        ),
        Step(
            "place",
            show=ask_place,
            text=f.place(took_place),
            buttons={"online": online},
            goes=("url", "confirm"),
        ),
        Step("url", show=ask_url, text=f.link(took_url), goes=("confirm",)),
        Step(
            "cap",
            show=ask_cap,
            text=f.places(lambda: edit_flow.button("cap", "none"), took_cap),
            buttons={"none": no_cap},
            goes=("confirm",),
        ),
        Step(
            "dl",
            show=ask_dl,
            text=f.deadline(start_of, took_dl),
            buttons={"none": no_dl},
            goes=("confirm",),
        ),
        Step(
            "confirm",
            show=show_confirm,
            buttons={"yes": apply, "no": back},
            goes=("menu", END),
        ),
    )


@dataclass(frozen=True)
class Change:
    """One change being made to event `event`: `field` (one of FIELDS) and its new value."""

    event: int = 0
    start: str = ""  # the event's start (ISO, UTC): a deadline must be before it
    field: str = ""
    title: str = ""  # a new title (en/sv: the title in that language)
    text: str = ""  # a new invitation text, place, or deadline (ISO; "" = none)
    url: str = ""
    cap: int | None = None


class EditFlow(Flow[Change]):
    name = "hp_edit"
    prefix = "hpx"
    Data = Change

    def move(self, ctx: Context, step: str, data: Change) -> None:
        """Go to `step` of this flow with `data` written back."""
        ctx.go(self.name, step, data)

    async def begin(self, ctx: Context, arg: str = "") -> None:
        event = await ctx.repo.hp_events.get(int(arg))
        data = Change(event=int(arg), start=event.starts_at.isoformat() if event else "")
        self.move(ctx, "menu", data)
        await show_menu(ctx, data)

    async def to(self, ctx: Context, step: str, data: Change) -> None:
        self.move(ctx, step, data)
        await self.table[step].show(ctx, data)


async def changeable(ctx: Context, event_id: int, lock: bool = False) -> HaastepajaEvent | None:
    """The event while it can still be changed (open, not started); else None, said so."""
    event = await ctx.repo.hp_events.get(event_id, lock=lock)
    if event is None or event.status != "open" or event.starts_at <= clock.now():
        ctx.go(None)
        ctx.send(ctx._("This event can no longer be changed."))
        return None
    return event


# ---------------------------------------------------------------------- the menu


async def show_menu(ctx: Context, data: Change) -> None:
    event = await changeable(ctx, data.event)
    if event is None:
        return
    going = (await ctx.repo.rsvps.counts(data.event))["going"]
    title, _ = event.text("title", "fi")
    place = esc(event.place) + (f" 💻 {esc(event.online_url)}" if event.online_url else "")
    places = (
        ctx._("{going} coming, {cap} places", going=going, cap=event.capacity)
        if event.capacity is not None
        else ctx._("{going} coming, no limit", going=going)
    )
    languages = ", ".join(LANGUAGE_NAMES[x] for x in ("fi", "en", "sv") if event.title.get(x))
    lines = [
        ctx._("✏️ <b>Change the haastepaja</b> (#{id})", id=event.id),
        ctx._("Title: {v}", v=esc(title)),
        ctx._("Place: {v}", v=place),
        ctx._("Places: {v}", v=places),
        ctx._(
            "Sign up by: {v}",
            v=fmt(event.deadline, lang=ctx.lang) if event.deadline else ctx._("until the start"),
        ),
        ctx._("Languages: {v}", v=languages),
        ctx._("What do you want to change? The time is changed from the card."),
    ]
    labels = {
        "title": ctx._("✏️ Title"),
        "fi": ctx._("✏️ Finnish text"),
        "en": ctx._("✏️ English"),
        "sv": ctx._("✏️ Swedish"),
        "place": ctx._("✏️ Place"),
        "cap": ctx._("✏️ Places"),
        "dl": ctx._("✏️ Deadline"),
    }
    buttons = [Btn(labels[x], edit_flow.button("menu", f"f.{x}")) for x in FIELDS]
    keyboard = (*rows(buttons, 3), (Btn(ctx._("✅ Done"), edit_flow.button("menu", "done")),))
    ctx.send("\n".join(lines), keyboard)


async def pick(ctx: Context, data: Change, value: str) -> None:
    if value not in FIELDS:
        ctx.invalid_button()
        return
    data = Change(event=data.event, start=data.start, field=value)
    await edit_flow.to(ctx, f"{value}_t" if value in ("en", "sv") else value, data)


async def done(ctx: Context, data: Change, value: str) -> None:
    from dialogs.haastepaja.staff import show_card

    ctx.go(None)
    event = await ctx.repo.hp_events.get(data.event)
    if event is not None:
        await show_card(ctx, event)


# ---------------------------------------------------------------------- the fields


async def ask_title(ctx: Context, data: Change) -> None:
    ctx.send(ctx._("The new title, in Finnish:"))


async def took_title(ctx: Context, data: Change, title: str) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, title=title))


async def ask_fi(ctx: Context, data: Change) -> None:
    ctx.send(
        ctx._("The new invitation text in Finnish, at most {n} characters:", n=f.DESCRIPTION_MAX)
    )


async def took_text(ctx: Context, data: Change, text: str) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, text=text))


def took_lang_title(lang: str) -> Then[str]:
    async def took(ctx: Context, data: Change, title: str) -> None:
        await edit_flow.to(ctx, f"{lang}_d", replace(data, title=title))

    return took


async def ask_place(ctx: Context, data: Change) -> None:
    ctx.send(
        ctx._("The new place? Type it, or press Online if it is held online."),
        rows([Btn(ctx._("💻 Online"), edit_flow.button("place", "online"))]),
    )


async def took_place(ctx: Context, data: Change, where: tuple[str, str]) -> None:
    place, url = where
    await edit_flow.to(ctx, "confirm", replace(data, text=place, url=url))


async def online(ctx: Context, data: Change, value: str) -> None:
    await edit_flow.to(ctx, "url", replace(data, text=""))


async def took_url(ctx: Context, data: Change, url: str) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, url=url))


async def ask_cap(ctx: Context, data: Change) -> None:
    ctx.send(
        ctx._(
            "The new number of places? Type a number, or press No limit. Nobody who is "
            "already coming loses their place."
        ),
        rows([Btn(ctx._("No limit"), edit_flow.button("cap", "none"))]),
    )


async def took_cap(ctx: Context, data: Change, cap: int) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, cap=cap))


async def no_cap(ctx: Context, data: Change, value: str) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, cap=None))


def start_of(data: Change) -> datetime:
    return datetime.fromisoformat(data.start)


async def ask_dl(ctx: Context, data: Change) -> None:
    ctx.send(
        ctx._(
            "The new signup deadline? A date (<code>3.2.</code>) or a date and time, or "
            "press No deadline: then answers are taken until the start."
        ),
        rows([Btn(ctx._("No deadline"), edit_flow.button("dl", "none"))]),
    )


async def took_dl(ctx: Context, data: Change, deadline: datetime) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, text=deadline.isoformat()))


async def no_dl(ctx: Context, data: Change, value: str) -> None:
    await edit_flow.to(ctx, "confirm", replace(data, text=""))


# ---------------------------------------------------------------------- confirm and save


def changed(event: HaastepajaEvent, data: Change) -> HaastepajaEvent:
    """A copy of the event with the change made (the stored one is not touched)."""
    copy = HaastepajaEvent(**{k: getattr(event, k) for k in HaastepajaEvent.model_fields})
    if data.field == "title":
        copy.title = {**event.title, "fi": data.title}
    elif data.field == "fi":
        copy.description = {**event.description, "fi": data.text}
    elif data.field in ("en", "sv"):
        copy.title = {**event.title, data.field: data.title}
        copy.description = {**event.description, data.field: data.text}
    elif data.field == "place":
        copy.place, copy.online_url = data.text, data.url or None
    elif data.field == "cap":
        copy.capacity = data.cap
    elif data.field == "dl":
        copy.deadline = datetime.fromisoformat(data.text) if data.text else None
    return copy


def described(ctx: Context, event: HaastepajaEvent, data: Change) -> str:
    """The change in one line (or, for a text, the text)."""
    if data.field == "title":
        return ctx._("New title: {v}", v=esc(data.title))
    if data.field in ("fi", "en", "sv"):
        head = ctx._("New invitation text in {lang}:", lang=LANGUAGE_NAMES[data.field])
        title = f"<b>{esc(data.title)}</b>\n" if data.title else ""
        return f"{head}\n{title}{esc(data.text)}"
    if data.field == "place":
        place = esc(data.text) + (f" 💻 {esc(data.url)}" if data.url else "")
        return ctx._("New place: {v}", v=place)
    if data.field == "cap":
        old = event.capacity if event.capacity is not None else ctx._("no limit")
        new = data.cap if data.cap is not None else ctx._("no limit")
        return ctx._("Places: {old} → {new}", old=old, new=new)
    deadline = (
        fmt(datetime.fromisoformat(data.text), lang=ctx.lang)
        if data.text
        else ctx._("until the start")
    )
    return ctx._("Sign up by: {v}", v=deadline)


async def show_confirm(ctx: Context, data: Change) -> None:
    event = await changeable(ctx, data.event)
    if event is None:
        return
    counts = await ctx.repo.rsvps.counts(data.event)
    lines = [described(ctx, event, data), ""]
    if data.field == "place":
        concerned = counts["going"] + counts["waitlist"]
        lines.append(
            ctx.n_(
                "The {n} person coming or on the waitlist gets a message.",
                "The {n} people coming or on the waitlist get a message.",
                concerned,
            )
        )
    if data.field == "cap":
        free = (
            counts["waitlist"]
            if data.cap is None
            else max(0, min(counts["waitlist"], data.cap - counts["going"]))
        )
        if free:
            lines.append(
                ctx.n_(
                    "{n} person moves up from the waitlist and is told.",
                    "{n} people move up from the waitlist and are told.",
                    free,
                )
            )
        if data.cap is not None and counts["going"] > data.cap:
            lines.append(
                ctx._(
                    "{going} people are already coming: nobody loses their place, and the "
                    "waitlist moves up only when fewer than {cap} are coming.",
                    going=counts["going"],
                    cap=data.cap,
                )
            )
    lines.append(updated_line(ctx, len(await invitations_out(ctx.repo, data.event))))
    ctx.send(
        "\n".join(lines),
        rows(
            [
                Btn(ctx._("✅ Save"), edit_flow.button("confirm", "yes")),
                Btn(ctx._("No, go back"), edit_flow.button("confirm", "no")),
            ],
            2,
        ),
    )


async def apply(ctx: Context, data: Change, value: str) -> None:
    event = await changeable(ctx, data.event, lock=True)
    if event is None:
        return
    new = changed(event, data)
    if new.deadline is not None and new.deadline > new.starts_at:
        # the time was changed meanwhile: the deadline typed then no longer fits
        ctx.send(ctx._("⚠️ The signup deadline must be before the start. Please give it again."))
        await edit_flow.to(ctx, "dl", replace(data, start=event.starts_at.isoformat()))
        return
    if not f.invitation_fits(ctx, new):
        await edit_flow.to(ctx, "menu", Change(event=data.event, start=data.start))
        return
    now = clock.now()
    event.title, event.description = new.title, new.description
    event.place, event.online_url = new.place, new.online_url
    event.capacity, event.deadline = new.capacity, new.deadline
    event.updated_at = now
    told = 0
    if data.field == "cap":
        promoted = await promote(ctx.repo, event, now)
        await announce_promotions(ctx, event, promoted, refresh=False)
        told = len(promoted)
    if data.field == "place":
        told = await tell_people(
            ctx.repo, ctx.translator, event, lambda t: place_changed_text(t, event)
        )
    edited = await update_invitations(ctx.repo, ctx.translator, event)
    ctx.repo.audit.log(f"event_edit_{data.field}", f"haastepaja:{event.id}", ctx.user.id)
    said = [ctx._("✅ Saved.")]
    if told:
        said.append(
            ctx.n_(
                "A message to {n} person is queued.",
                "Messages to {n} people are queued.",
                told,
            )
        )
    said.append(updated_line(ctx, edited))
    ctx.send(" ".join(said))
    await edit_flow.to(ctx, "menu", Change(event=data.event, start=event.starts_at.isoformat()))


async def back(ctx: Context, data: Change, value: str) -> None:
    await edit_flow.to(ctx, "menu", Change(event=data.event, start=data.start))


edit_flow = EditFlow(steps())
