"""KIERTO-kartoitus, the summary at the end: every theme's answers, to review or change.

The steps `sum` and `sumt` of the table in `dialogs.kartoitus`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dialogs import kartoitus as flow
from dialogs import results
from dialogs.actions import Btn
from dialogs.router import Context
from dialogs.scoring import sequence
from dialogs.ui import esc, join, rows
from knowledge.schema import Question

if TYPE_CHECKING:
    from dialogs.kartoitus import KartoitusData


async def show_summary(ctx: Context, data: KartoitusData) -> None:
    await summary_shown(ctx, await flow.load_answers(ctx, data))


async def summary_shown(
    ctx: Context, answers: dict[str, Any], message_id: int | None = None
) -> None:
    kb = ctx.kb
    order = set(sequence(kb, answers))
    lines = [ctx._("📋 <b>Your answers</b>: check them before the results."), ""]
    buttons = []
    missing = dont_know = 0
    for theme in kb.questionnaire.themes:
        asked = [q for q in theme.questions if q.id in order]
        if not asked:
            continue
        done = sum(1 for q in asked if answers.get(q.id) is not None)
        missing += len(asked) - done
        dont_know += sum(
            1 for q in asked if (o := kb.option(q.id, str(answers.get(q.id)))) and o.dk
        )
        lines.append(
            f"{'✅' if done == len(asked) else '◻️'} {esc(theme.title.get(ctx.lang))}: "
            f"{done}/{len(asked)}"
        )
        buttons.append(Btn(theme.short.get(ctx.lang), flow.kartoitus.button("sum", theme.id)))
    lines.append("")
    if missing:
        lines.append(
            ctx.n_(
                "{n} question is unanswered; it counts as “Don't know”.",
                "{n} questions are unanswered; they count as “Don't know”.",
                missing,
            )
        )
    if dont_know:
        lines.append(
            ctx.n_(
                "{n} answer is “Don't know”: it is listed as a data gap.",
                "{n} answers are “Don't know”: they are listed as data gaps.",
                dont_know,
            )
        )
    lines.append(ctx._("Tap a theme to review or change its answers, or finish."))
    keyboard = join(
        rows([Btn(ctx._("👤 Company profile"), flow.kartoitus.button("sum", "profile"))]),
        rows(buttons, 2),
        rows([Btn(ctx._("✅ Finish and show my results"), flow.kartoitus.button("sum", "done"))]),
    )
    ctx.edit(message_id, "\n".join(lines), keyboard)


async def summary_done(ctx: Context, data: KartoitusData, value: str) -> None:
    assessment = await ctx.repo.assessments.get(data.assessment)
    if assessment is None:
        ctx.go(None)
        return
    answers = await flow.load_answers(ctx, data)
    ctx.go(None)
    ctx.edit(ctx.message_id, ctx._("✅ All answered. Here are your results."))
    await results.complete(ctx, assessment, answers)


async def summary_theme(ctx: Context, data: KartoitusData, value: str) -> None:
    themes = {t.id for t in ctx.kb.questionnaire.themes} | {"profile"}
    if value not in themes:
        ctx.invalid_button()
        return
    data = replace(data, theme=value)
    ctx.at("sumt", data)
    await theme_shown(ctx, data, await flow.load_answers(ctx, data), ctx.message_id)


def theme_questions(ctx: Context, data: KartoitusData, answers: dict[str, Any]) -> list[Question]:
    order = set(sequence(ctx.kb, answers))
    if data.theme == "profile":
        return list(ctx.kb.questionnaire.profile)
    theme = next((t for t in ctx.kb.questionnaire.themes if t.id == data.theme), None)
    return [q for q in theme.questions if q.id in order] if theme else []


async def show_theme(ctx: Context, data: KartoitusData) -> None:
    await theme_shown(ctx, data, await flow.load_answers(ctx, data))


async def theme_shown(
    ctx: Context, data: KartoitusData, answers: dict[str, Any], message_id: int | None = None
) -> None:
    questions = theme_questions(ctx, data, answers)
    lines = []
    for number, question in enumerate(questions, 1):
        label = answer_label(ctx, question, answers.get(question.id))
        lines.append(f"{number}. {esc(question.text.get(ctx.lang))}\n   → <i>{esc(label)}</i>")
    lines.append("")
    lines.append(ctx._("Tap a number to change that answer."))
    buttons = [Btn(str(n), flow.kartoitus.button("sumt", q.id)) for n, q in enumerate(questions, 1)]
    keyboard = join(
        rows(buttons, 5),
        rows([Btn(ctx._("⬅️ Back to the summary"), flow.kartoitus.button("sumt", "back"))]),
    )
    ctx.edit(message_id, "\n".join(lines), keyboard)


def answer_label(ctx: Context, question: Question, value: Any) -> str:
    if value is None:
        return ctx._("not answered")
    if question.type == "text":
        return str(value)[:80] + ("…" if len(str(value)) > 80 else "")
    if question.type == "multi":
        return ", ".join(
            o.label.get(ctx.lang) for o in ctx.kb.options[question.id] if o.id in value
        )
    option = ctx.kb.option(question.id, value)
    return option.label.get(ctx.lang) if option else "?"


async def theme_back(ctx: Context, data: KartoitusData, value: str) -> None:
    ctx.at("sum", data)
    await summary_shown(ctx, await flow.load_answers(ctx, data), ctx.message_id)


async def theme_question(ctx: Context, data: KartoitusData, value: str) -> None:
    answers = await flow.load_answers(ctx, data)
    if value not in {q.id for q in theme_questions(ctx, data, answers)}:
        ctx.invalid_button()
        return
    data = replace(data, question=value, to_summary=True, ticked=None)
    ctx.at("q", data)
    await flow.question_shown(ctx, data, answers, ctx.message_id)
