"""The placement finder: a few questions by buttons, then workshop placements that fit.

Steps (`state.step` = payload node):

    int    what interests you (checklist, toggled in place, then Done)
    lang   which language you prefer to work in
    time   how much time you have
    learn  what you want to learn (checklist)
    res    the matches, each with the reason it fits; free text here goes to the FAQ

Placement cards, thumbs and "I'm interested" are global buttons (`pl:<id>.<action>`), so
a card opened from a deep link (`/start nextiili_textiles`) or from an FAQ answer works
too. Interest is saved only after the job seeker agrees to what is stored and who sees it,
and only once, however many times the button is pressed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from dialogs import handoff
from dialogs.actions import Btn, Keyboard
from dialogs.router import Context, Flow, Router
from dialogs.ui import auto_rows, esc, join, rows
from knowledge.schema import Placement, PlacementBook
from locales.i18n import LANGUAGE_NAMES, N_

router = Router("placement")

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


class PlacementFinder(Flow):
    name = "placement"
    prefix = "p"

    async def begin(self, ctx: Context, arg: str = "") -> None:
        ctx.user.role = ctx.user.role or "jobseeker"
        ctx.send(
            ctx._(
                "🧰 <b>Workshop placements</b>: at KIERTO's partner workshops you learn by doing "
                "real work, with an instructor's support. Four quick questions and I'll show the "
                "places that fit you. Nothing is passed on unless you say you are interested."
            )
        )
        ctx.go(self.name, "int", int=[], learn=[])
        await self.show(ctx)

    async def show(self, ctx: Context, message_id: int | None = None) -> None:
        step = ctx.state.step
        book = ctx.kb.placements
        if step == "int":
            text = ctx._("1/4 · What interests you? Tick all that apply, then press Done.")
            keyboard = self._checklist(
                ctx, "int", [(t.id, t.label.get(ctx.lang)) for t in book.interests]
            )
        elif step == "lang":
            text = ctx._("2/4 · Which language would you like to work in?")
            keyboard = auto_rows(
                [
                    *(Btn(name, self.payload("lang", code)) for code, name in LANG_CHOICES),
                    Btn(ctx._("Any of these"), self.payload("lang", "any")),
                ]
            )
        elif step == "time":
            text = ctx._("3/4 · How much time do you have?")
            keyboard = rows(
                [Btn(ctx._(label), self.payload("time", code)) for code, label in TIME_CHOICES]
            )
        elif step == "learn":
            text = ctx._("4/4 · What would you like to learn? Tick all that apply, then Done.")
            keyboard = self._checklist(
                ctx, "learn", [(t.id, t.label.get(ctx.lang)) for t in book.skills]
            )
        else:
            await self._show_results(ctx)
            return
        if message_id is None:
            ctx.send(text, keyboard)
        else:
            ctx.edit(message_id, text, keyboard)

    def _checklist(self, ctx: Context, node: str, items: list[tuple[str, str]]) -> Keyboard:
        picked = set(ctx.data.get(node) or [])
        buttons = [
            Btn(("☑️ " if tag in picked else "⬜ ") + label, self.payload(node, f"t.{tag}"))
            for tag, label in items
        ]
        return join(rows(buttons, 2), rows([Btn(ctx._("✅ Done"), self.payload(node, "done"))]))

    async def on_button(self, ctx: Context, node: str, value: str) -> None:
        ctx.toast()
        book = ctx.kb.placements
        if node in ("int", "learn"):
            known = {t.id for t in (book.interests if node == "int" else book.skills)}
            if value.startswith("t.") and value[2:] in known:
                picked = list(ctx.data.get(node) or [])
                tag = value[2:]
                picked = [p for p in picked if p != tag] if tag in picked else [*picked, tag]
                ctx.at(node, **{node: picked})
                await self.show(ctx, ctx.message_id)
                return
            if value == "done":
                ctx.edit(ctx.message_id, self._answered(ctx, node))
                ctx.at("lang" if node == "int" else "res")
                await self.show(ctx)
                return
        elif node == "lang" and value in {*dict(LANG_CHOICES), "any"}:
            ctx.at("time", lang=value)
            ctx.edit(ctx.message_id, "✓ " + (LANGUAGE_NAMES.get(value) or ctx._("Any of these")))
            await self.show(ctx)
            return
        elif node == "time" and value in dict(TIME_CHOICES):
            ctx.at("learn", time=value)
            ctx.edit(ctx.message_id, "✓ " + ctx._(dict(TIME_CHOICES)[value]))
            await self.show(ctx)
            return
        elif node == "res" and value == "again":
            await self.begin(ctx)
            return
        elif node == "res" and value == "list":
            await self._show_results(ctx)
            return
        ctx.invalid_button()

    def _answered(self, ctx: Context, node: str) -> str:
        book = ctx.kb.placements
        tags = book.interests if node == "int" else book.skills
        picked = [t.label.get(ctx.lang) for t in tags if t.id in (ctx.data.get(node) or [])]
        return "✓ " + (esc(", ".join(picked)) if picked else ctx._("nothing in particular"))

    async def _show_results(self, ctx: Context) -> None:
        book = ctx.kb.placements
        fits = rank(
            book, ctx.data, await ctx.repo.votes.of_user(ctx.user.id), await ctx.repo.votes.totals()
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
                "Tap one for details. A coordinator confirms what is available now. "
                "You can also type a question at any time."
            ),
        ]
        keyboard = join(
            rows(
                [
                    Btn(f"{n}. {f.placement.name.get(ctx.lang)}"[:60], f"pl:{f.placement.id}.card")
                    for n, f in enumerate(good, 1)
                ]
            ),
            rows(
                [
                    Btn(ctx._("🔄 Change my answers"), self.payload("res", "again")),
                    Btn(ctx._("🙋 Ask a person"), "faq:human"),
                ],
                2,
            ),
        )
        ctx.send("\n".join(lines), keyboard)

    async def on_text(self, ctx: Context, text: str) -> bool:
        if ctx.state.step != "res":
            return False
        fallback = ctx.engine.text_fallback
        if fallback is not None:
            await fallback(ctx, text)
        return True


finder = router.flow(PlacementFinder())


@router.command("tyopaja", "tyopajat", "paja", "placement", "placements", "verkstad")
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


def card_keyboard(ctx: Context, placement: Placement) -> Keyboard:
    pid = placement.id
    back = (
        Btn(ctx._("⬅️ Back to my matches"), "p:res:list")
        if ctx.state.flow == finder.name and ctx.state.step == "res"
        else Btn(ctx._("🔎 Find placements for me"), "m:tyopaja")
    )
    return (
        (Btn(ctx._("🙋 I'm interested"), f"pl:{pid}.int"),),
        (Btn("👍", f"pl:{pid}.up"), Btn("👎", f"pl:{pid}.down")),
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
        ("📝", ctx._("How to get in"), placement.how_to_apply),
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


PL_RE = re.compile(r"^([a-z0-9_]{1,20})\.(card|up|down|int|ok|no)$")


@router.button("pl")
async def placement_button(ctx: Context, value: str) -> None:
    match = PL_RE.match(value)
    placement = ctx.kb.placement(match.group(1)) if match else None
    if match is None or placement is None:
        ctx.invalid_button()
        return
    action = match.group(2)
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
    elif action == "int":
        ctx.toast()
        ctx.send(
            ctx._(
                "🙋 To pass on your interest in <b>{name}</b>, I save the placement, your "
                "answers here (interests, language, time, what you want to learn) and your "
                "Telegram user id. The KIERTO coordinators see them and contact you here in "
                "Telegram. You can erase it all any time with /forget. Is that OK?",
                name=esc(placement.name.get(ctx.lang)),
            ),
            rows(
                [
                    Btn(ctx._("✅ Yes, save my interest"), f"pl:{placement.id}.ok"),
                    Btn(ctx._("No, thanks"), f"pl:{placement.id}.no"),
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
    in_finder = ctx.state.flow == finder.name
    prefs = {
        key: ctx.data.get(key)
        for key in ("int", "lang", "time", "learn")
        if in_finder and ctx.data.get(key)
    }
    if not await ctx.repo.interests.add(ctx.user.id, placement.id, prefs):
        ctx.edit(
            ctx.message_id,
            ctx._(
                "You have already told us you are interested in this "
                "one: a coordinator will contact you here."
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
            "✅ Saved! A KIERTO coordinator will contact you here (reference #{id}). Meanwhile you "
            "can ask me anything, or look at other placements.",
            id=ticket.id,
        ),
    )
