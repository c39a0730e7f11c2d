"""The placement finder: a few questions by buttons, then workshop placements that fit.

Placement cards, thumbs and "I'm interested" are global buttons (`pl:<id>:<action>`), so
a card opened from a deep link (`/start nextiili_textiles`) or from an FAQ answer works
too. Interest is saved only after the job seeker agrees to what is stored and who sees it,
and only once, however many times the button is pressed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from dialogs import handoff
from dialogs.actions import Btn, Keyboard
from dialogs.faq import ask_person_button
from dialogs.flow import Flow, Step, load_data
from dialogs.notice import services_lines, who_answers
from dialogs.payload import Payload
from dialogs.router import Context, Router
from dialogs.start import menu_button
from dialogs.ui import auto_rows, esc, join, rows
from knowledge.schema import Placement, PlacementBook, Tag
from locales.i18n import LANGUAGE_NAMES, N_

router = Router("placement")


def steps() -> tuple[Step, ...]:
    """The steps; checklists are toggled in place (`t.<tag>`), then Done."""
    languages = dict.fromkeys([*(code for code, _ in LANG_CHOICES), "any"], pick_language)
    return (
        # what interests you (a checklist)
        Step("int", show_interests, {"t.*": tick_interest, "done": interests_done}, goes=("lang",)),
        # which language you prefer to work in
        Step("lang", show_language, languages, goes=("time",)),
        # how much time you have
        Step("time", show_time, dict.fromkeys(dict(TIME_CHOICES), pick_time), goes=("learn",)),
        # what you want to learn (a checklist)
        Step("learn", show_learn, {"t.*": tick_learn, "done": learn_done}, goes=("res",)),
        # the matches, each with the reason it fits; free text here goes to the FAQ
        Step(
            "res",
            show_results,
            {"again": results_again, "list": results_list},
            text=results_text,
            goes=("int",),
        ),
    )


@dataclass(frozen=True)
class FinderData:
    interests: tuple[str, ...] = ()
    lang: str | None = None  # fi | en | sv | any
    time: str | None = None  # a TIME_CHOICES code
    learn: tuple[str, ...] = ()

    def prefs(self) -> dict[str, Any]:
        """The answers as `rank` and a coordinator's lead read them."""
        return {
            "int": list(self.interests),
            "lang": self.lang,
            "time": self.time,
            "learn": list(self.learn),
        }


LANG_CHOICES = (("fi", "Suomi"), ("en", "English"), ("sv", "Svenska"))
TIME_CHOICES = (
    ("full", N_("Full working days")),
    ("part", N_("A few hours a day")),
    ("unsure", N_("Not sure yet")),
)
SHOWN = 5  # matches listed


@dataclass(frozen=True)
class Fit:
    placement: Placement
    score: float
    interests: list[str]  # matched interest ids
    skills: list[str]  # matched skill ids


def rank(
    book: PlacementBook, prefs: dict[str, Any], my_votes: dict[str, int], totals: dict[str, int]
) -> list[Fit]:
    """Placements ranked for these answers.

    Each shared interest counts 2 and each shared learning goal 1; a placement open to
    "anything" fits every interest a little (0.5). A known working language the person did
    not choose costs 1. The person's own thumbs down sends a placement to the end and a
    thumbs up lifts it by 1; everyone's votes nudge by at most ±0.5, so feedback improves
    the order without overriding what the person asked for.
    """
    wanted = set(prefs.get("int") or [])
    learn = set(prefs.get("learn") or [])
    lang = prefs.get("lang")
    fits = []
    for order, p in enumerate(book.placements):
        shared = [t for t in p.interests if t in wanted]
        skills = [s for s in p.skills if s in learn]
        value = 2.0 * len(shared) + 1.0 * len(skills)
        if "anything" in p.interests and wanted and not shared:
            value += 0.5
        if "anything" in wanted:
            value += 1.0
        if lang and lang != "any" and p.languages and lang not in p.languages:
            value -= 1.0
        vote = my_votes.get(p.id, 0)
        value += -100.0 if vote < 0 else 1.0 if vote > 0 else 0.0
        value += 0.5 * math.tanh(totals.get(p.id, 0) / 5)
        fits.append((value, -order, Fit(p, value, shared, skills)))
    fits.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [fit for _, _, fit in fits]


class PlacementFinder(Flow[FinderData]):
    name = "placement"
    prefix = "p"
    Data = FinderData

    async def begin(self, ctx: Context, arg: str = "") -> None:
        ctx.user.role = ctx.user.role or "jobseeker"
        ctx.send(
            ctx._(
                "🧰 <b>Workshops</b>: during the KIERTO project (2021–2023) its partners ran "
                "workshops where young people learnt by doing real work. Four quick questions "
                "and I'll show the kinds of workshops that fit you, and where to ask about "
                "workshops today. Nothing is passed on unless you say you are interested."
            )
        )
        data = FinderData()
        ctx.go(self.name, "int", data)
        await show_interests(ctx, data)


def checklist(ctx: Context, node: str, items: list[tuple[str, str]], picked: set[str]) -> Keyboard:
    buttons = [
        Btn(("☑️ " if tag in picked else "⬜ ") + label, finder.button(node, f"t.{tag}"))
        for tag, label in items
    ]
    return join(rows(buttons, 2), rows([Btn(ctx._("✅ Done"), finder.button(node, "done"))]))


def put(ctx: Context, text: str, keyboard: Keyboard, message_id: int | None) -> None:
    if message_id is None:
        ctx.send(text, keyboard)
    else:
        ctx.edit(message_id, text, keyboard)


async def show_interests(ctx: Context, data: FinderData, message_id: int | None = None) -> None:
    book = ctx.kb.placements
    text = ctx._("1/4 · What interests you? Tick all that apply, then press Done.")
    items = [(t.id, t.label.get(ctx.lang)) for t in book.interests]
    put(ctx, text, checklist(ctx, "int", items, set(data.interests)), message_id)


async def show_language(ctx: Context, data: FinderData) -> None:
    keyboard = auto_rows(
        [
            *(Btn(name, finder.button("lang", code)) for code, name in LANG_CHOICES),
            Btn(ctx._("Any of these"), finder.button("lang", "any")),
        ]
    )
    ctx.send(ctx._("2/4 · Which language would you like to work in?"), keyboard)


async def show_time(ctx: Context, data: FinderData) -> None:
    keyboard = rows(
        [Btn(ctx._(label), finder.button("time", code)) for code, label in TIME_CHOICES]
    )
    ctx.send(ctx._("3/4 · How much time do you have?"), keyboard)


async def show_learn(ctx: Context, data: FinderData, message_id: int | None = None) -> None:
    book = ctx.kb.placements
    text = ctx._("4/4 · What would you like to learn? Tick all that apply, then Done.")
    items = [(t.id, t.label.get(ctx.lang)) for t in book.skills]
    put(ctx, text, checklist(ctx, "learn", items, set(data.learn)), message_id)


def toggled(tags: tuple[str, ...], tag: str) -> tuple[str, ...]:
    return tuple(p for p in tags if p != tag) if tag in tags else (*tags, tag)


async def tick_interest(ctx: Context, data: FinderData, tag: str) -> None:
    if tag not in {t.id for t in ctx.kb.placements.interests}:
        ctx.invalid_button()
        return
    data = replace(data, interests=toggled(data.interests, tag))
    ctx.at("int", data)
    await show_interests(ctx, data, ctx.message_id)


async def interests_done(ctx: Context, data: FinderData, value: str) -> None:
    ctx.edit(ctx.message_id, answered(ctx, ctx.kb.placements.interests, data.interests))
    ctx.at("lang", data)
    await show_language(ctx, data)


async def tick_learn(ctx: Context, data: FinderData, tag: str) -> None:
    if tag not in {t.id for t in ctx.kb.placements.skills}:
        ctx.invalid_button()
        return
    data = replace(data, learn=toggled(data.learn, tag))
    ctx.at("learn", data)
    await show_learn(ctx, data, ctx.message_id)


async def learn_done(ctx: Context, data: FinderData, value: str) -> None:
    ctx.edit(ctx.message_id, answered(ctx, ctx.kb.placements.skills, data.learn))
    ctx.at("res", data)
    await show_results(ctx, data)


async def pick_language(ctx: Context, data: FinderData, value: str) -> None:
    data = replace(data, lang=value)
    ctx.at("time", data)
    ctx.edit(ctx.message_id, "✓ " + (LANGUAGE_NAMES.get(value) or ctx._("Any of these")))
    await show_time(ctx, data)


async def pick_time(ctx: Context, data: FinderData, value: str) -> None:
    data = replace(data, time=value)
    ctx.at("learn", data)
    ctx.edit(ctx.message_id, "✓ " + ctx._(dict(TIME_CHOICES)[value]))
    await show_learn(ctx, data)


def answered(ctx: Context, tags: list[Tag], picked: tuple[str, ...]) -> str:
    labels = [t.label.get(ctx.lang) for t in tags if t.id in picked]
    return "✓ " + (esc(", ".join(labels)) if labels else ctx._("nothing in particular"))


async def results_again(ctx: Context, data: FinderData, value: str) -> None:
    await finder.begin(ctx)


async def results_list(ctx: Context, data: FinderData, value: str) -> None:
    await show_results(ctx, data)


async def results_text(ctx: Context, data: FinderData, text: str) -> bool:
    await ctx.answer_text(text)  # a question about the matches: the FAQ answers it
    return True


async def show_results(ctx: Context, data: FinderData) -> None:
    book = ctx.kb.placements
    fits = rank(
        book,
        data.prefs(),
        await ctx.repo.votes.of_user(ctx.user.id),
        await ctx.repo.votes.totals(),
    )
    good = [f for f in fits if f.score > 0][:SHOWN] or fits[:SHOWN]
    labels = {t.id: t.label.get(ctx.lang) for t in [*book.interests, *book.skills]}
    lines = [ctx._("✨ <b>Placements that fit you best</b>"), ""]
    for number, fit in enumerate(good, 1):
        reasons = [labels[t] for t in fit.interests + fit.skills if t in labels]
        why = esc(", ".join(reasons)) if reasons else ctx._("open to everyone")
        lines.append(f"{number}. <b>{esc(fit.placement.name.get(ctx.lang))}</b> — {why}")
    lines += [
        "",
        ctx._(
            "Tap one for details. These are the kinds of workshops the project's partners ran; "
            "the project has ended, so each card says where to ask about workshops today. "
            "You can also type a question at any time."
        ),
    ]
    offered = services_lines(ctx.t, ctx.kb, "jobseeker")
    if offered:
        operator = esc(ctx.kb.operator.name.get(ctx.lang))
        lines += ["", ctx._("🏛 <b>Offered today by {operator}</b>", operator=operator)]
        lines += [f"• {line}" for line in offered]
    keyboard = join(
        rows(
            [
                card_button(f"{n}. {f.placement.name.get(ctx.lang)}"[:60], f.placement.id)
                for n, f in enumerate(good, 1)
            ]
        ),
        rows(
            [
                Btn(ctx._("🔄 Change my answers"), finder.button("res", "again")),
                ask_person_button(ctx._("🙋 Ask a person")),
            ],
            2,
        ),
    )
    ctx.send("\n".join(lines), keyboard)


finder = router.flow(PlacementFinder(steps()))


@router.command(
    "tyopaja",
    "tyopajat",
    "paja",
    "placement",
    "placements",
    "verkstad",
    help=N_("find a workshop placement"),
)
async def tyopaja(ctx: Context, args: str) -> None:
    await finder.begin(ctx)


@router.deeplink
async def placement_link(ctx: Context, payload: str) -> bool:
    key = payload.lower()
    if key in ("tyopaja", "tyopajat", "paja", "placement", "verkstad"):
        await finder.begin(ctx)
        return True
    placement = ctx.kb.placement(key)
    if placement is not None:
        ctx.user.role = ctx.user.role or "jobseeker"
        show_card(ctx, placement)
        return True
    return False


# ---------------------------------------------------------------------- cards


@dataclass(frozen=True)
class CardPayload(Payload, prefix="pl"):
    """A placement card's buttons: open the card, thumbs, interest and its consent."""

    placement: str
    action: Literal["card", "up", "down", "int", "ok", "no"]


def card_button(label: str, placement_id: str) -> Btn:
    """A button that opens a placement's card (the FAQ offers them too)."""
    return Btn(label, CardPayload(placement_id, "card").pack())


def card_keyboard(ctx: Context, placement: Placement) -> Keyboard:
    pid = placement.id
    back = (
        Btn(ctx._("⬅️ Back to my matches"), finder.button("res", "list"))
        if ctx.state.flow == finder.name and ctx.state.step == "res"
        else menu_button(ctx._("🔎 Find placements for me"), "tyopaja")
    )
    return (
        (Btn(ctx._("🙋 I'm interested"), CardPayload(pid, "int").pack()),),
        (Btn("👍", CardPayload(pid, "up").pack()), Btn("👎", CardPayload(pid, "down").pack())),
        (back,),
    )


def show_card(ctx: Context, placement: Placement, message_id: int | None = None) -> None:
    lang = ctx.lang
    partner = next((p for p in ctx.kb.placements.partners if p.id == placement.partner), None)
    title = f"🧰 <b>{esc(placement.name.get(lang))}</b>"
    if partner is not None:
        title += f"\n<i>{esc(partner.name)}</i>"
    lines = [title]
    sections = [
        ("🛠", ctx._("What you do"), placement.what_you_do),
        ("🎓", ctx._("What you learn"), placement.what_you_learn),
        ("👤", ctx._("Who it suits"), placement.suits),
        ("📝", ctx._("Where to ask today"), placement.how_to_apply),
    ]
    lines.append(esc(placement.summary.get(lang)))
    lines += [
        f"{icon} <b>{title}</b>\n{esc(text.get(lang))}"
        for icon, title, text in sections
        if text is not None
    ]
    if placement.languages:
        names = ", ".join(LANGUAGE_NAMES[code] for code in placement.languages)
        languages = ctx._("Languages")
        lines.insert(-1, f"🗣 <b>{languages}</b>: {names}")
    ctx.edit(message_id, "\n\n".join(lines), card_keyboard(ctx, placement))


@router.button(CardPayload)
async def placement_button(ctx: Context, payload: CardPayload) -> None:
    placement = ctx.kb.placement(payload.placement)
    if placement is None:
        ctx.invalid_button()
        return
    action = payload.action
    if action == "card":
        ctx.toast()
        show_card(ctx, placement)
    elif action in ("up", "down"):
        await ctx.repo.votes.put(ctx.user.id, placement.id, 1 if action == "up" else -1)
        ctx.toast(
            ctx._("Thanks! I'll suggest more like this.")
            if action == "up"
            else ctx._("Thanks! I'll suggest this one less.")
        )
    elif action == "int" and not ctx.kb.staff_answer:
        # nobody reads interests: say where to ask, and what is on offer today
        ctx.toast()
        lines = [f"🙋 {who_answers(ctx.t, ctx.kb)}", *services_lines(ctx.t, ctx.kb, "jobseeker")]
        if placement.how_to_apply is not None:
            lines.insert(0, esc(placement.how_to_apply.get(ctx.lang)))
        ctx.send("\n\n".join(lines), rows([menu_button(ctx._("🏠 Menu"), "menu")]))
    elif action == "int":
        ctx.toast()
        ctx.send(
            ctx._(
                "🙋 To pass on your interest in <b>{name}</b>, I save it, your answers here "
                "(interests, language, time, what you want to learn) and your Telegram user id. "
                "The staff of {operator} see them and contact you here in Telegram. You can "
                "erase it all any time with /forget. Is that OK?",
                name=esc(placement.name.get(ctx.lang)),
                operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            ),
            rows(
                [
                    Btn(ctx._("✅ Yes, save my interest"), CardPayload(placement.id, "ok").pack()),
                    Btn(ctx._("No, thanks"), CardPayload(placement.id, "no").pack()),
                ],
                2,
            ),
        )
    elif action == "no":
        ctx.toast()
        ctx.edit(ctx.message_id, ctx._("OK, nothing was saved."))
    elif action == "ok":
        ctx.toast()
        await save_interest(ctx, placement)


async def save_interest(ctx: Context, placement: Placement) -> None:
    data = load_data(FinderData, ctx.state.data) if ctx.state.flow == finder.name else None
    prefs = {key: value for key, value in (data.prefs() if data else {}).items() if value}
    if not await ctx.repo.interests.add(ctx.user.id, placement.id, prefs):
        ctx.edit(
            ctx.message_id,
            ctx._(
                "You have already told us you are interested in this one: "
                "you will be contacted here."
            ),
        )
        return
    staff = ctx.staff_t
    book = ctx.kb.placements
    labels = {t.id: t.label.get(staff.lang) for t in [*book.interests, *book.skills]}
    details = [staff._("Interested in the placement: {name}", name=placement.name.get(staff.lang))]
    if prefs.get("int"):
        details.append(
            staff._("Interests: {list}", list=", ".join(labels.get(t, t) for t in prefs["int"]))
        )
    if prefs.get("learn"):
        details.append(
            staff._(
                "Wants to learn: {list}", list=", ".join(labels.get(t, t) for t in prefs["learn"])
            )
        )
    if prefs.get("lang"):
        details.append(
            staff._(
                "Working language: {lang}",
                lang=LANGUAGE_NAMES.get(prefs["lang"], staff._("Any of these")),
            )
        )
    if prefs.get("time"):
        details.append(staff._("Time: {time}", time=staff._(dict(TIME_CHOICES)[prefs["time"]])))
    ticket = await handoff.open_ticket(ctx, f"placement:{placement.id}", "\n".join(details))
    ctx.edit(
        ctx.message_id,
        ctx._(
            "✅ Saved! The staff of {operator} will contact you here (reference #{id}). {when} "
            "Meanwhile you can ask me anything, or look at other placements.",
            id=ticket.id,
            operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            when=esc(ctx.kb.operator.staff_text.get(ctx.lang)),
        ),
    )
