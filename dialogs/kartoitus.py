"""KIERTO-kartoitus: a company's self-assessment, question by question.

Every answer is written to the answers table the moment it is given, with the
questionnaire version; the position and unfinished checklist ticks live in the dialog state,
so a company that leaves (or whose bot restarts) continues at the same question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from dialogs.actions import Btn, Keyboard
from dialogs.flow import END, Flow, Step
from dialogs.kartoitus_summary import (
    show_summary,
    show_theme,
    summary_done,
    summary_shown,
    summary_theme,
    theme_back,
    theme_question,
)
from dialogs.router import Context, Router
from dialogs.scoring import score, sequence
from dialogs.ui import auto_rows, bar, esc, join, rows
from knowledge.schema import Question
from locales.i18n import N_

router = Router("kartoitus")


def steps() -> tuple[Step, ...]:
    """The steps; a question's payloads carry its question id, `<qid>:<value>`."""
    return (
        # an unfinished assessment exists: continue or start over
        Step(
            "res",
            show_resume,
            {"go": resume_go, "new": resume_new},
            goes=("co", "name", "q", "sum"),
        ),
        # pick one of my companies, or a new one
        Step("co", show_company, {"new": company_new, "*": company_pick}, goes=("name", "q")),
        Step("name", show_name, text=name_typed, goes=("yt",)),
        # the Y-tunnus, optional (check digit validated)
        Step("yt", show_ytunnus, {"skip": ytunnus_skip}, text=ytunnus_typed, goes=("q",)),
        Step(
            "q",
            show_question,
            {
                "back": question_back,
                "skip": question_skip,
                "pause": question_pause,
                "done": question_done,  # a checklist
                "t.*": question_tick,  # a checklist item: t.<option id>
                "*": question_option,  # an option id
            },
            text=question_typed,
            node=lambda data: data.question,
            goes=("q", "sum", END),
        ),
        # all answered: a theme to review, or finish
        Step("sum", show_summary, {"done": summary_done, "*": summary_theme}, goes=("sumt", END)),
        # one theme's answers: pick one to change
        Step("sumt", show_theme, {"back": theme_back, "*": theme_question}, goes=("sum", "q")),
    )


@dataclass(frozen=True)
class KartoitusData:
    assessment: int = 0  # Assessment.id, once one is open
    question: str = ""  # the question shown (step q)
    ticked: tuple[str, ...] | None = None  # a checklist's ticks before Done (None: not loaded)
    to_summary: bool = False  # a question changed from the summary returns there
    theme: str = ""  # the theme reviewed (step sumt)
    company_name: str = ""  # typed at step name, saved with the Y-tunnus
    gaps_only: bool = False  # answering the open questions of a finished assessment


NAME_MAX = 200


def valid_business_id(raw: str) -> str | None:
    """A Finnish Y-tunnus in canonical form (1234567-8), or None if the check digit fails.

    The check digit: weights 7, 9, 10, 5, 8, 4, 2 over the seven digits; remainder 0 gives
    0, remainder 1 is never issued, otherwise 11 − remainder. Old six-digit ids are padded
    with a leading zero, as the register does.
    """
    text = "".join(raw.split()).replace("–", "-")
    if "-" not in text and len(text) == 8 and text.isascii() and text.isdigit():
        text = f"{text[:7]}-{text[7]}"
    if not re.fullmatch(r"\d{6,7}-\d", text, re.ASCII):
        return None
    body, _, check = text.partition("-")
    body = body.zfill(7)
    remainder = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    if remainder == 1:
        return None
    expected = 0 if remainder == 0 else 11 - remainder
    return f"{body}-{check}" if int(check) == expected else None


class Kartoitus(Flow[KartoitusData]):
    name = "kartoitus"
    prefix = "k"
    Data = KartoitusData
    entries = ("res", "co", "name")

    async def begin(self, ctx: Context, arg: str = "") -> None:
        if ctx.state.flow == self.name:
            await ctx.show_current()
            return
        open_one = next(
            (
                a
                for a in reversed(await ctx.repo.assessments.of_user(ctx.user.id))
                if a.status == "open"
            ),
            None,
        )
        if open_one is None or open_one.id is None:
            await choose_company(ctx)
            return
        data = KartoitusData(assessment=open_one.id)
        ctx.go(self.name, "res", data)
        await show_resume(ctx, data)

    async def on_cancel(self, ctx: Context, data: KartoitusData) -> None:
        """Leaving the flow (/cancel, ⏸ Later): remember the question to come back to."""
        if ctx.state.step == "q" and data.assessment:
            assessment = await ctx.repo.assessments.get(data.assessment)
            if assessment is not None:
                assessment.position = data.question


async def choose_company(ctx: Context) -> None:
    companies = await ctx.repo.companies.of_user(ctx.user.id)
    ctx.send(
        ctx._(
            "🏢 <b>KIERTO-kartoitus</b>, the circular economy self-assessment, shows how "
            "circular and sustainable your business is. About 45 quick questions in 8 themes, "
            "some of them for your trade, 10–15 minutes. You get your level, your three best "
            "next steps, a score per theme and local services that help. It is a "
            "self-assessment and advice, not a certificate. Your answers are saved as you go: "
            "stop any time and continue later."
        )
    )
    data = KartoitusData()
    if companies:
        ctx.go(kartoitus.name, "co", data)
        await show_company(ctx, data)
    else:
        ctx.go(kartoitus.name, "name", data)
        await show_name(ctx, data)


# ---------------------------------------------------------------------- res, co, name, yt


async def show_resume(ctx: Context, data: KartoitusData) -> None:
    assessment = await ctx.repo.assessments.get(data.assessment)
    company = await ctx.repo.companies.get(assessment.company_id) if assessment else None
    answered = len(await ctx.repo.answers.of(data.assessment))
    ctx.send(
        ctx.n_(
            "You have an unfinished kartoitus for {company} with {n} answer saved. "
            "Continue where you left off, or start over?",
            "You have an unfinished kartoitus for {company} with {n} answers saved. "
            "Continue where you left off, or start over?",
            answered,
            company=esc(company.name if company else "?"),
        ),
        rows(
            [
                Btn(ctx._("▶️ Continue"), kartoitus.button("res", "go")),
                Btn(ctx._("🔄 Start over"), kartoitus.button("res", "new")),
            ],
            2,
        ),
    )


async def resume_go(ctx: Context, data: KartoitusData, value: str) -> None:
    assessment = await ctx.repo.assessments.get(data.assessment)
    if assessment is None or assessment.status != "open" or assessment.id is None:
        await choose_company(ctx)
        return
    answers = await ctx.repo.answers.values(assessment.id)
    order = sequence(ctx.kb, answers)
    unanswered = [q for q in order if q not in answers]
    fresh = KartoitusData(assessment=assessment.id)
    if assessment.position in order:  # where they left off
        ctx.go(kartoitus.name, "q", replace(fresh, question=assessment.position))
    elif unanswered:
        ctx.go(kartoitus.name, "q", replace(fresh, question=unanswered[0]))
    else:
        ctx.go(kartoitus.name, "sum", fresh)
    await ctx.show_current()


async def resume_new(ctx: Context, data: KartoitusData, value: str) -> None:
    assessment = await ctx.repo.assessments.get(data.assessment)
    if assessment is not None:
        assessment.status = "dropped"
    await choose_company(ctx)


async def show_company(ctx: Context, data: KartoitusData) -> None:
    companies = await ctx.repo.companies.of_user(ctx.user.id)
    buttons = [Btn(c.name[:40], kartoitus.button("co", str(c.id))) for c in companies[-6:]]
    buttons.append(Btn(ctx._("➕ Another company"), kartoitus.button("co", "new")))
    ctx.send(ctx._("Which company is this kartoitus for?"), rows(buttons))


async def company_new(ctx: Context, data: KartoitusData, value: str) -> None:
    ctx.at("name", data)
    await show_name(ctx, data)


async def company_pick(ctx: Context, data: KartoitusData, value: str) -> None:
    companies = {str(c.id): c for c in await ctx.repo.companies.of_user(ctx.user.id)}
    if value not in companies:
        ctx.invalid_button()
        return
    await start_assessment(ctx, companies[value].id)


async def show_name(ctx: Context, data: KartoitusData) -> None:
    ctx.send(ctx._("What is your company's name?"))


async def name_typed(ctx: Context, data: KartoitusData, text: str) -> bool:
    text = text.strip()
    if len(text) < 2 or len(text) > NAME_MAX or text.startswith("/"):
        ctx.send(
            ctx.n_(
                "Please type the company name (2 to {n} character).",
                "Please type the company name (2 to {n} characters).",
                NAME_MAX,
            )
        )
        return True
    data = replace(data, company_name=text)
    ctx.at("yt", data)
    await show_ytunnus(ctx, data)
    return True


async def show_ytunnus(ctx: Context, data: KartoitusData) -> None:
    ctx.send(
        ctx._(
            "Your company's Y-tunnus (business ID), e.g. 1234567-1? It is optional: "
            "it only helps the programme recognise your company if you ask to be "
            "contacted. Type it, or skip."
        ),
        rows([Btn(ctx._("Skip ➡️"), kartoitus.button("yt", "skip"))]),
    )


async def ytunnus_typed(ctx: Context, data: KartoitusData, text: str) -> bool:
    business_id = valid_business_id(text.strip())
    if business_id is None:
        ctx.send(
            ctx._(
                "That does not look like a valid Y-tunnus: it has seven digits, a hyphen "
                "and a check digit, e.g. 1234567-1, and the check digit must match. "
                "Please check it, or skip."
            ),
            rows([Btn(ctx._("Skip ➡️"), kartoitus.button("yt", "skip"))]),
        )
        return True
    await new_company(ctx, data, business_id)
    return True


async def ytunnus_skip(ctx: Context, data: KartoitusData, value: str) -> None:
    await new_company(ctx, data, None)


async def new_company(ctx: Context, data: KartoitusData, business_id: str | None) -> None:
    company = await ctx.repo.companies.add(ctx.user.id, data.company_name, business_id)
    await start_assessment(ctx, company.id)


async def start_assessment(ctx: Context, company_id: int | None) -> None:
    assert company_id is not None
    version = ctx.kb.questionnaire.version
    assessment = await ctx.repo.assessments.add(company_id, ctx.user.id, version)
    assert assessment.id is not None
    previous = await ctx.repo.assessments.latest_done(company_id, before_id=assessment.id)
    answers: dict[str, Any] = {}
    if previous is not None and previous.id is not None:
        # A retake: the profile is usually unchanged, so it is carried over (and shown
        # with its answers ticked, to confirm or change).
        old = await ctx.repo.answers.of(previous.id)
        for question in ctx.kb.questionnaire.profile:
            if question.id in old and ctx.kb.option(question.id, old[question.id].value):
                await ctx.repo.answers.put(
                    assessment.id, question.id, version, old[question.id].value, None
                )
                answers[question.id] = old[question.id].value
    data = KartoitusData(assessment=assessment.id, question=sequence(ctx.kb, {})[0])
    ctx.go(kartoitus.name, "q", data)
    ctx.send(
        ctx._(
            "Let's begin. Press a button to answer; ⬅️ Back returns to the previous "
            "question, Skip moves on, ⏸ Later saves your place."
        )
    )
    await question_shown(ctx, data, answers)


# ---------------------------------------------------------------------- q


async def load_answers(ctx: Context, data: KartoitusData) -> dict[str, Any]:
    """The answers so far; loaded once per event and passed along (then kept current)."""
    return await ctx.repo.answers.values(data.assessment)


async def show_question(ctx: Context, data: KartoitusData) -> None:
    await question_shown(ctx, data, await load_answers(ctx, data))


async def question_shown(
    ctx: Context, data: KartoitusData, answers: dict[str, Any], message_id: int | None = None
) -> None:
    """The current question; with `message_id`, in place of that message (a question
    answered by a button turns into the next one, so the chat stays short)."""
    qid = data.question
    question = ctx.kb.questions[qid]
    if question.type == "multi" and data.ticked is None:
        data = replace(data, ticked=tuple(answers.get(qid) or ()))
        ctx.at("q", data)
    first = sequence(ctx.kb, answers)[0] == qid
    keyboard = question_keyboard(ctx, question, answers.get(qid), data.ticked, first)
    ctx.edit(message_id, question_text(ctx, qid, answers), keyboard)


def question_text(ctx: Context, qid: str, answers: dict[str, Any]) -> str:
    kb = ctx.kb
    question = kb.questions[qid]
    order = sequence(kb, answers)
    position = order.index(qid) + 1 if qid in order else len(order)
    theme = kb.theme_of.get(qid)
    header = theme.title.get(ctx.lang) if theme else ctx._("About your company")
    counter = ctx._("question {n} of {total}", n=position, total=len(order))
    lines = [
        f"<b>{esc(header)}</b> · {counter}",
        bar(position / len(order)),
        "",
        f"<b>{esc(question.text.get(ctx.lang))}</b>",
    ]
    if question.help:
        lines.append(f"<i>{esc(question.help.get(ctx.lang))}</i>")
    if question.type == "multi":
        lines.append(ctx._("Tick all that apply, then press Done."))
    elif question.type == "text":
        lines.append(
            ctx.n_(
                "Write your answer (at most {n} character), or skip.",
                "Write your answer (at most {n} characters), or skip.",
                question.max_len,
            )
        )
    return "\n".join(lines)


def question_keyboard(
    ctx: Context, question: Question, current: Any, ticked: tuple[str, ...] | None, first: bool
) -> Keyboard:
    qid = question.id
    options = ctx.kb.options[qid]
    if question.type == "multi":
        picked = set(ticked or ())
        choice = rows(
            [
                Btn(
                    ("☑️ " if o.id in picked else "⬜ ") + o.label.get(ctx.lang),
                    kartoitus.button(qid, f"t.{o.id}"),
                )
                for o in options
            ]
        )
        choice = join(choice, rows([Btn(ctx._("✅ Done"), kartoitus.button(qid, "done"))]))
    else:
        choice = auto_rows(
            Btn(
                ("✓ " if o.id == current else "") + o.label.get(ctx.lang),
                kartoitus.button(qid, o.id),
            )
            for o in options
        )
    nav = [] if first else [Btn(ctx._("⬅️ Back"), kartoitus.button(qid, "back"))]
    nav += [
        Btn(ctx._("Skip ➡️"), kartoitus.button(qid, "skip")),
        Btn(ctx._("⏸ Later"), kartoitus.button(qid, "pause")),
    ]
    return join(choice, (tuple(nav),))


async def question_typed(ctx: Context, data: KartoitusData, text: str) -> bool:
    question = ctx.kb.questions[data.question]
    if question.type != "text":
        return False
    text = text.strip()
    if len(text) > question.max_len:
        ctx.send(
            ctx.n_(
                "Your answer is {n} characters long; the limit is {limit}. Nothing was "
                "saved yet: please shorten it and send it again.",
                "Your answer is {n} characters long; the limit is {limit}. Nothing was "
                "saved yet: please shorten it and send it again.",
                len(text),
                limit=ctx.t.number(question.max_len),
            )
        )
        return True
    answers = await save(ctx, data, question.id, None, text)
    ctx.send(ctx._("✓ Saved."))
    await advance(ctx, data, answers)
    return True


async def question_back(ctx: Context, data: KartoitusData, value: str) -> None:
    answers = await load_answers(ctx, data)
    order = sequence(ctx.kb, answers)
    index = order.index(data.question) if data.question in order else 0
    data = replace(data, question=order[max(0, index - 1)], to_summary=False, ticked=None)
    ctx.at("q", data)
    await question_shown(ctx, data, answers, ctx.message_id)


async def question_skip(ctx: Context, data: KartoitusData, value: str) -> None:
    ctx.toast(ctx._("➡️ Skipped"))
    await advance(ctx, data, await load_answers(ctx, data), ctx.message_id)


async def question_pause(ctx: Context, data: KartoitusData, value: str) -> None:
    await ctx.cancel_flow()
    ctx.edit(
        ctx.message_id,
        ctx._(
            "⏸ Saved. Continue any time with /kartoitus or from the /start "
            "menu: you will be back at this question."
        ),
    )


async def question_tick(ctx: Context, data: KartoitusData, option_id: str) -> None:
    question = ctx.kb.questions[data.question]
    option = ctx.kb.option(question.id, option_id)
    if question.type != "multi" or option is None:
        ctx.invalid_button()
        return
    picked = list(data.ticked or ())
    if option_id in picked:
        picked.remove(option_id)
    elif option.exclusive:
        picked = [option_id]
    else:
        exclusive = {o.id for o in ctx.kb.options[question.id] if o.exclusive}
        picked = [p for p in picked if p not in exclusive] + [option_id]
    data = replace(data, ticked=tuple(picked))
    ctx.at("q", data)
    await question_shown(ctx, data, await load_answers(ctx, data), ctx.message_id)


async def question_done(ctx: Context, data: KartoitusData, value: str) -> None:
    qid = data.question
    if ctx.kb.questions[qid].type != "multi":
        ctx.invalid_button()
        return
    picked = list(data.ticked or ())
    if not picked:
        ctx.toast(ctx._("Tick at least one item, or choose Skip."), alert=True)
        return
    answers = await save(ctx, data, qid, picked, None)
    labels = [o.label.get(ctx.lang) for o in ctx.kb.options[qid] if o.id in picked]
    ctx.toast("✓ " + ", ".join(labels))
    await advance(ctx, data, answers, ctx.message_id)


async def question_option(ctx: Context, data: KartoitusData, value: str) -> None:
    qid = data.question
    option = ctx.kb.option(qid, value)
    if ctx.kb.questions[qid].type != "single" or option is None:
        ctx.invalid_button()
        return
    answers = await save(ctx, data, qid, value, None)
    ctx.toast("✓ " + option.label.get(ctx.lang))
    await advance(ctx, data, answers, ctx.message_id)


async def save(
    ctx: Context, data: KartoitusData, qid: str, value: Any, text: Any
) -> dict[str, Any]:
    """Write one answer now; returns the answers so far, this one included (this event's
    copy, passed along)."""
    version = ctx.kb.questionnaire.version
    return await ctx.repo.answers.put_and_read(data.assessment, qid, version, value, text)


async def advance(
    ctx: Context, data: KartoitusData, answers: dict[str, Any], message_id: int | None = None
) -> None:
    qid = data.question
    data = replace(data, ticked=None)
    if data.to_summary:
        data = replace(data, to_summary=False)
        ctx.at("sum", data)
        await summary_shown(ctx, answers, message_id)
        return
    order = sequence(ctx.kb, answers)
    index = order.index(qid) if qid in order else -1
    if data.gaps_only:  # from the results' open questions: only those that are still open
        gaps = set(score(ctx.kb, answers).gaps)
        order = order[: index + 1] + [q for q in order[index + 1 :] if q in gaps]
    if index + 1 < len(order):
        data = replace(data, question=order[index + 1])
        ctx.at("q", data)
        await question_shown(ctx, data, answers, message_id)
    else:
        ctx.at("sum", data)
        await summary_shown(ctx, answers, message_id)


kartoitus = router.flow(Kartoitus(steps()))


async def answer_gaps(ctx: Context, assessment_id: int, first: str) -> None:
    """Open a finished assessment at its first open question (the results' "answer now")."""
    data = KartoitusData(assessment=assessment_id, question=first, gaps_only=True)
    ctx.go(kartoitus.name, "q", data)
    await question_shown(ctx, data, await load_answers(ctx, data))


@router.command("kartoitus", "kysely", help=N_("KIERTO-kartoitus: how circular is my company"))
async def kartoitus_command(ctx: Context, args: str) -> None:
    ctx.user.role = ctx.user.role or "company"
    await kartoitus.begin(ctx)


@router.deeplink
async def kartoitus_link(ctx: Context, payload: str) -> bool:
    if payload.lower() in ("kartoitus", "yritys", "company"):
        await kartoitus.begin(ctx)
        return True
    return False
