"""Free-text questions, answered from knowledge/faq.yaml wherever no question is open.
While a button question is open, a typed question is answered only when the match is
confident (then the open question is shown again); anything else gets the flow's reminder.

When the match is confident (faq_match.decide: a small model fitted on the labelled dev
sets by bench/faq_accuracy.py --calibrate, not by feel) the answer comes at once, with a
button for a near-neighbour entry that came second (privacy / mydata); less sure, the bot
offers "did you mean…" buttons for the best three; below that it says it does not know,
keeps the question for the team (to grow the FAQ) and offers a person. A message with no
letters at all (emoji, "???") is no question: it gets the greeting and is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.actions import Btn, Keyboard
from dialogs.faq_match import FaqMatcher, also, decide, unsure, words
from dialogs.handoff import handoff
from dialogs.payload import Payload
from dialogs.router import Context, Router
from dialogs.start import menu_button, menu_keyboard
from dialogs.ui import esc, rows
from knowledge.schema import FaqEntry
from locales.i18n import N_

router = Router("faq")

MAX_TERMS_TEXT = 600  # longer questions are matched on their first part only

GREETINGS = {
    "hei",
    "hi",
    "hello",
    "hey",
    "moi",
    "moikka",
    "terve",
    "morjens",
    "hej",
    "hejsan",
    "tjena",
    "moro",
    "päivää",
    "huomenta",
    "iltaa",
    "heippa",
}
THANKS = {"kiitos", "kiitti", "kiitoksia", "thanks", "thank", "thx", "tack", "tackar", "kiits"}


@dataclass(frozen=True)
class FaqPayload(Payload, prefix="faq"):
    """An FAQ answer to show (`faq:<entry id>`), or `faq:human`: ask a person."""

    entry: str


def ask_person_button(label: str) -> Btn:
    """Hand the latest question (or a new one) to a person."""
    return Btn(label, FaqPayload("human").pack())


def entry(ctx: Context, entry_id: str) -> FaqEntry | None:
    """The entry of that id, or the one it was merged into (a button sent before the merge)."""
    return next((e for e in ctx.kb.faq if e.id == entry_id), None) or next(
        (e for e in ctx.kb.faq if entry_id in e.formerly), None
    )


def related_buttons(ctx: Context, faq: FaqEntry) -> Keyboard:
    from dialogs.placement import card_button  # placement imports this module

    buttons = []
    for ref in faq.related[:3]:
        placement = ctx.kb.placement(ref)
        if placement is not None:
            buttons.append(card_button("🧰 " + placement.name.get(ctx.lang), ref))
    return rows(buttons)


def action_button(ctx: Context, faq: FaqEntry) -> Btn | None:
    """The feature an answer talks about, one press away."""
    return {
        "human": ask_person_button(ctx._("🙋 Ask a person")),
        "kartoitus": menu_button(ctx._("🏢 KIERTO-kartoitus for companies"), "kartoitus"),
        "tyopaja": menu_button(ctx._("🧰 Find a workshop placement"), "tyopaja"),
        "settings": menu_button(ctx._("⚙️ Settings"), "settings"),
    }.get(faq.action or "")


def show_answer(ctx: Context, faq: FaqEntry, neighbour: FaqEntry | None = None) -> None:
    """The answer; `neighbour`, a near neighbour that may be the one meant, as a button."""
    title = faq.questions.get(ctx.lang)[0]
    text = f"💡 <b>{esc(title[:1].upper() + title[1:])}</b>\n\n{esc(faq.answer.get(ctx.lang))}"
    action = action_button(ctx, faq)
    keyboard = rows([action]) if action else ()
    if neighbour is not None:
        label = "💡 " + neighbour.questions.get(ctx.lang)[0][:60]
        keyboard += rows([Btn(label, FaqPayload(neighbour.id).pack())])
    keyboard += related_buttons(ctx, faq)
    if faq.action != "human":
        keyboard += rows([ask_person_button(ctx._("🙋 Not what I asked: ask a person"))])
    ctx.send(text, keyboard)


@router.hook("text_fallback")
async def answer_question(ctx: Context, text: str) -> None:
    """The free-text fallback: small talk, an FAQ answer, suggestions, or a person."""
    plain = words(text)
    greeting = bool(plain) and len(plain) <= 3 and all(w in GREETINGS for w in plain)
    no_letters = not any(ch.isalpha() for ch in text)  # 👍, "???", a sticker's emoji
    if ctx.first_contact and (greeting or no_letters):
        return  # "hi" as a first message: the greeting just sent is the answer
    if greeting or no_letters:
        ctx.send(
            ctx._(
                "Hi! 👋 Ask me anything about the KIERTO project, its results and workshops, or "
                "choose from the menu."
            ),
            menu_keyboard(ctx),
        )
        return
    if plain and len(plain) <= 4 and any(w in THANKS for w in plain):
        ctx.send(ctx._("You're welcome! 😊"))
        return
    matcher: FaqMatcher = ctx.services.matcher
    matches = matcher.match(text[: MAX_TERMS_TEXT * 8], ctx.lang)
    ctx.remember_question(text[:2000])  # for "ask a person" below; /forget erases it
    decision = decide(matches, ctx.lang)
    if decision == "answer":
        faq = entry(ctx, matches[0].entry_id)
        assert faq is not None
        other = also(matches, ctx.lang)
        show_answer(ctx, faq, entry(ctx, other) if other else None)
    elif decision == "suggest":
        buttons = []
        for match in matches:
            if match.score >= unsure(ctx.lang) * 0.8 and (faq := entry(ctx, match.entry_id)):
                label = faq.questions.get(ctx.lang)[0][:60]
                buttons.append(Btn(label, FaqPayload(faq.id).pack()))
        buttons.append(ask_person_button(ctx._("🙋 None of these: ask a person")))
        ctx.send(
            ctx._("I am not quite sure what you mean. Did you mean one of these?"), rows(buttons)
        )
    else:
        best = matches[0] if matches else None
        ctx.repo.misses.add(
            ctx.user.id,
            ctx.lang,
            text[:4096],
            best.entry_id if best else None,
            best.score if best else 0.0,
        )
        ctx.send(
            ctx._(
                "Sorry, I don't know the answer to that. I saved your question so the "
                "team can teach me. Would you like to ask a person?"
            ),
            rows(
                [
                    ask_person_button(ctx._("🙋 Ask a person")),
                    menu_button(ctx._("🏠 Menu"), "menu"),
                ],
                2,
            ),
        )


@router.hook("aside")
async def answer_aside(ctx: Context, text: str) -> bool:
    """A question typed while a button question is open ("does it pay?" in the middle of
    the finder): answered if the match is confident, and nothing is stored. A single word
    or anything less certain is left to the flow, which reminds about the buttons."""
    if len(words(text)) < 2:
        return False
    matches = ctx.services.matcher.match(text[: MAX_TERMS_TEXT * 8], ctx.lang)
    if decide(matches, ctx.lang) != "answer" or (faq := entry(ctx, matches[0].entry_id)) is None:
        return False
    show_answer(ctx, faq)
    return True


@router.command(
    "ask", "kysy", "fråga", "fraga", help=N_("ask a question, e.g. /ask what is a haastepaja")
)
async def ask(ctx: Context, args: str) -> None:
    if args.strip():
        await answer_question(ctx, args)
    else:
        ctx.send(
            ctx._(
                "Type your question in your own words, for example: "
                "<i>What is a workshop placement?</i>"
            )
        )


@router.button(FaqPayload)
async def faq_button(ctx: Context, payload: FaqPayload) -> None:
    ctx.toast()
    value = payload.entry
    if value == "human":
        question = ctx.last_question
        if question:
            await handoff.ask_about(ctx, question, "faq")
        else:
            await handoff.begin(ctx)
        return
    faq = entry(ctx, value)
    if faq is None:
        ctx.invalid_button()
        return
    show_answer(ctx, faq)
