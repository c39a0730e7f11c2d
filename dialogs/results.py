"""KIERTO-kartoitus results: level, best next steps, details, open questions, PDF, contact.

Read on a phone, the first message is one screen: the level, the legal basics if any, the
three best next steps and how many questions were left open. The per-theme scores, the chart
and the services are behind a button (`details`), and so is the list of open questions
(`open`), with a button that takes the company back to answer them (`fix`).

The buttons under the results (`kr:<assessment id>:<action>`) stay valid after the flow
has ended, so a company can fetch its PDF or ask for an adviser days later; each press
checks that the assessment is the user's own and completed.

Who contacts whom comes from the operator profile: without staff, "contact me" shows the
operator's contact and services instead of recording a lead nobody reads.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from dialogs import quickviews
from dialogs.actions import Action, Btn, Keyboard, SendFile
from dialogs.notice import self_assessment_notice, services_lines, who_answers
from dialogs.payload import Payload
from dialogs.render.charts import radar_png
from dialogs.render.report import ReportData, render_pdf
from dialogs.router import Context, Router
from dialogs.scoring import RankedTip, Result, best_tips, score
from dialogs.start import menu_button, show_menu
from dialogs.store.models import Assessment, Company, utcnow
from dialogs.ui import bar, esc, rows
from knowledge.schema import Service

router = Router("results")


def _effort(ctx: Context, effort: int) -> str:
    return {1: ctx._("effort: small"), 2: ctx._("effort: medium"), 3: ctx._("effort: large")}[
        effort
    ]


def _what_if(ctx: Context, ranked: RankedTip) -> str:
    return ctx._(
        "Doing this: +{points} points overall · {effort}",
        points=ctx.t.number(ranked.gain, 1),
        effort=_effort(ctx, ranked.tip.effort),
    )


async def complete(ctx: Context, assessment: Assessment, answers: dict[str, Any]) -> None:
    """Score a finished assessment, store the result and show it."""
    result = score(ctx.kb, answers)
    tips = best_tips(ctx.kb, answers)
    assessment.status = "done"
    assessment.completed_at = utcnow()
    assessment.overall = round(result.overall, 1)
    assessment.level = result.level
    assessment.result = {**result.as_json(), "tips": [[r.tip.id, round(r.gain, 1)] for r in tips]}
    previous = await ctx.repo.assessments.latest_done(assessment.company_id, assessment.id)
    company = await ctx.repo.companies.get(assessment.company_id)
    await show(ctx, assessment, company, previous, result, tips)


def _change(now: float | None, before: Any) -> str:
    if now is None or before is None:
        return ""
    delta = round(now - float(before))
    return f"(+{delta})" if delta > 0 else f"({delta})" if delta < 0 else "(±0)"


def local_services(
    ctx: Context, result: Result, tips: list[RankedTip], n: int = 4
) -> list[Service]:
    """Services named by the best tips first, then those for the weakest themes."""
    chosen: list[str] = []
    for ranked in tips:
        chosen += [s for s in ranked.tip.services if s not in chosen]
    weakest = sorted((s.score, t) for t, s in result.themes.items() if s.score is not None)
    for _score, theme_id in weakest:
        for service in ctx.kb.services.values():
            if theme_id in service.themes and service.id not in chosen:
                chosen.append(service.id)
    for fallback in ("haastepaja", "kierto100"):
        if fallback in ctx.kb.services and fallback not in chosen:
            chosen.append(fallback)
    picked = [ctx.kb.services[s] for s in chosen if s in ctx.kb.services and s != "kartoitus"]
    return [s for s in picked if s.audience in ("company", "both")][:n]  # not what they just did


def notes(ctx: Context, answers: dict[str, Any]) -> list[str]:
    """The free-text notes to the adviser (the questionnaire's text questions), as typed."""
    return [
        str(answers[q.id]).strip()
        for q in ctx.kb.questions.values()
        if q.type == "text" and isinstance(answers.get(q.id), str) and answers[q.id].strip()
    ]


def level_of(ctx: Context, result: Result) -> Any:
    return next(lv for lv in ctx.kb.questionnaire.levels if lv.id == result.level)


async def show(
    ctx: Context,
    assessment: Assessment,
    company: Company | None,
    previous: Assessment | None,
    result: Result,
    tips: list[RankedTip],
) -> None:
    """The first screen: level, legal basics, the three best steps, open questions."""
    kb, lang = ctx.kb, ctx.lang
    level = level_of(ctx, result)
    lines = [
        ctx._(
            "📊 <b>KIERTO-kartoitus results</b> · {company}",
            company=esc(company.name if company else ""),
        ),
        "",
        ctx._(
            "Overall score: <b>{score}/100</b> · level <b>{level}</b>",
            score=ctx.t.number(result.overall),
            level=esc(level.label.get(lang)),
        ),
    ]
    if previous is not None and previous.overall is not None:
        lines.append(
            ctx._(
                "Previous kartoitus {date}: {score}/100 {change}",
                date=ctx.t.date(previous.completed_at or previous.started_at),
                score=ctx.t.number(previous.overall),
                change=_change(result.overall, previous.overall),
            )
        )
    lines += [f"<i>{esc(level.description.get(lang))}</i>", ""]
    if result.red_flags:
        lines.append(ctx._("⚠️ <b>Check these legal basics first</b>"))
        for qid in result.red_flags:
            flag = kb.questions[qid].red_flag
            if flag is not None:
                lines.append(f"• {esc(flag.text.get(lang))}")
        lines.append("")
    lines.append(ctx._("🎯 <b>Your three best next steps</b> (most gain for the least effort)"))
    if not tips:
        lines.append(
            ctx._(
                "None of the tips would raise your score much: excellent work! "
                "Ask an adviser how to reach the next level."
            )
        )
    for number, ranked in enumerate(tips, 1):
        tip = ranked.tip
        lines.append(
            f"{number}. <b>{esc(tip.title.get(lang))}</b> · <i>{_what_if(ctx, ranked)}</i>"
        )
        lines.append(esc(tip.text.get(lang)))
    if result.gaps:
        lines += [
            "",
            ctx.n_(
                "❔ {n} question was left open (“don't know” or skipped): finding out is a "
                "step forward too.",
                "❔ {n} questions were left open (“don't know” or skipped): finding out is a "
                "step forward too.",
                len(result.gaps),
            ),
        ]
    lines += ["", f"<i>{esc(self_assessment_notice(ctx.t))}</i>"]
    ctx.send("\n".join(lines), results_keyboard(ctx, assessment, result))


def results_keyboard(ctx: Context, assessment: Assessment, result: Result) -> Keyboard:
    aid = assessment.id
    assert aid is not None
    buttons = [
        Btn(ctx._("📊 Scores per theme and local help"), ResultsPayload(aid, "details").pack())
    ]
    if result.gaps:
        buttons.append(
            Btn(
                ctx._("❔ Open questions ({n})", n=len(result.gaps)),
                ResultsPayload(aid, "open").pack(),
            )
        )
    buttons += [
        Btn(ctx._("📄 PDF report"), ResultsPayload(aid, "pdf").pack()),
        Btn(
            ctx._("🙋 Ask an adviser to contact me")
            if ctx.kb.staff_answer
            else ctx._("🙋 Where to get advice"),
            ResultsPayload(aid, "contact").pack(),
        ),
        menu_button(ctx._("🏠 Menu"), "menu"),
    ]
    return rows(buttons)


async def show_details(ctx: Context, assessment: Assessment, company: Company | None) -> None:
    """Scores per theme (with the change since last time), business models, chart, services."""
    kb, lang = ctx.kb, ctx.lang
    assert assessment.id is not None
    answers = await ctx.repo.answers.values(assessment.id)
    result, tips = score(kb, answers), best_tips(kb, answers)
    previous = await ctx.repo.assessments.latest_done(assessment.company_id, assessment.id)
    before = (previous.result or {}).get("themes", {}) if previous else {}
    lines = [ctx._("Your scores per theme (0–100)"), ""]
    for theme in kb.questionnaire.themes:
        theme_score = result.themes[theme.id].score
        if theme_score is None:
            not_applicable = ctx._("does not apply")
            lines.append(f"{bar(0)} – {esc(theme.title.get(lang))} <i>({not_applicable})</i>")
        else:
            change = _change(theme_score, before.get(theme.id))
            lines.append(
                f"{bar(theme_score / 100)} {theme_score:.0f} {esc(theme.title.get(lang))}"
                + (f" {change}" if change else "")
            )
    assert assessment.id is not None
    peers = await quickviews.peers_of(ctx, assessment.id, result)
    if peers:  # against at least 10 companies of the same trade or size class
        lines += ["", f"👥 {esc(peers[0])}", *(f"• {esc(line)}" for line in peers[1:])]
    models = [m for m in kb.questionnaire.models if m.id in result.models]
    lines.append("")
    if models:
        lines.append(
            ctx._(
                "♻️ Circular business models you already use (Sitra's five): {models}",
                models=esc(", ".join(m.label.get(lang) for m in models)),
            )
        )
    else:
        lines.append(
            ctx._(
                "♻️ You did not tick any of Sitra's five circular business models "
                "yet: the tips below are a good start."
            )
        )
    services = local_services(ctx, result, tips)
    if services:
        lines += ["", ctx._("🤝 <b>Local help in Pirkanmaa</b>")]
        for service in services:
            name = service.name.get(lang)
            provider = service.provider.get(lang)
            by = f" ({esc(provider)})" if provider != name else ""
            lines.append(f"• <b>{esc(name)}</b>{by}: {esc(service.description.get(lang))}")
    offered = services_lines(ctx.t, kb, "company")
    if offered:
        lines += [
            "",
            ctx._(
                "🏛 <b>Offered today by {operator}</b>",
                operator=esc(kb.operator.name.get(lang)),
            ),
        ]
        lines += [f"• {line}" for line in offered]
    ctx.send("\n".join(lines), results_keyboard(ctx, assessment, result))
    chart = chart_args(ctx, result, before, company.name if company else "")
    chat_id, caption = ctx.event.chat_id, ctx._("Your scores per theme (0–100)")

    async def draw() -> list[Action]:
        # after the commit and off the event loop: drawing takes a moment of CPU
        png = await asyncio.to_thread(radar_png, *chart)
        return [SendFile(chat_id, "photo", png, "kierto-kartoitus.png", caption)]

    ctx.defer(draw)


def open_questions(ctx: Context, result: Result) -> list[str]:
    """The questions answered "don't know" or skipped, as the company saw them."""
    lines = []
    for qid in result.gaps:
        question = ctx.kb.questions[qid]
        theme = ctx.kb.theme_of.get(qid)
        where = f" <i>({esc(theme.title.get(ctx.lang))})</i>" if theme else ""
        lines.append(f"• {esc(question.text.get(ctx.lang))}{where}")
    return lines


async def show_open(ctx: Context, assessment: Assessment) -> None:
    assert assessment.id is not None
    result = score(ctx.kb, await ctx.repo.answers.values(assessment.id))
    if not result.gaps:
        ctx.send(ctx._("✅ No open questions."))
        return
    lines = [
        ctx.n_(
            "❔ <b>{n} open question</b> (“don't know” or skipped):",
            "❔ <b>{n} open questions</b> (“don't know” or skipped):",
            len(result.gaps),
        ),
        "",
        *open_questions(ctx, result),
    ]
    ctx.send(
        "\n".join(lines),
        rows(
            [
                Btn(ctx._("✍️ Answer them now"), ResultsPayload(assessment.id, "fix").pack()),
                menu_button(ctx._("🏠 Menu"), "menu"),
            ]
        ),
    )


# ---------------------------------------------------------------------- buttons


@dataclass(frozen=True)
class ResultsPayload(Payload, prefix="kr"):
    """The buttons under a completed assessment's results."""

    assessment: int
    action: Literal["pdf", "details", "open", "fix", "contact", "ok", "no"]

    def valid(self) -> bool:
        return self.assessment > 0


@router.button(ResultsPayload)
async def results_button(ctx: Context, payload: ResultsPayload) -> None:
    assessment = await ctx.repo.assessments.get(payload.assessment)
    if assessment is None or assessment.user_id != ctx.user.id or assessment.status != "done":
        ctx.invalid_button()
        return
    action = payload.action
    company = await ctx.repo.companies.get(assessment.company_id)
    if action == "details":
        ctx.toast()
        await show_details(ctx, assessment, company)
    elif action == "open":
        ctx.toast()
        await show_open(ctx, assessment)
    elif action == "fix":
        ctx.toast()
        await answer_open_questions(ctx, assessment)
    elif action == "contact" and not ctx.kb.staff_answer:
        # nobody reads leads: say where advice is, and what the operator offers companies
        ctx.toast()
        lines = [f"🙋 {who_answers(ctx.t, ctx.kb)}", *services_lines(ctx.t, ctx.kb, "company")]
        ctx.send("\n\n".join(lines), rows([menu_button(ctx._("🏠 Menu"), "menu")]))
    elif action == "pdf":
        ctx.toast(ctx._("Making your report…"))
        data, chart = await report_data(ctx, assessment, company)
        name = re.sub(r"[^a-z0-9]+", "-", (company.name if company else "").lower()).strip("-")
        filename = f"kierto-kartoitus-{name or 'report'}-{assessment.id}.pdf"
        chat_id, caption = ctx.event.chat_id, ctx._("Your KIERTO-kartoitus report")

        def build() -> bytes:
            return render_pdf(replace(data, chart_png=radar_png(*chart)))

        async def make() -> list[Action]:
            return [
                SendFile(chat_id, "document", await asyncio.to_thread(build), filename, caption)
            ]

        ctx.defer(make)
    elif action == "contact":
        ctx.toast()
        shared = (
            ctx._("your company's name and Y-tunnus")
            if company and company.business_id
            else ctx._("your company's name")
        )
        ctx.send(
            ctx._(
                "🙋 If you agree, the staff of {operator} will see {shared}, your kartoitus "
                "answers and results and your note, and will contact you here in Telegram "
                "through this bot. {when} Nothing else is shared. Do you agree?",
                operator=esc(ctx.kb.operator.name.get(ctx.lang)),
                shared=shared,
                when=esc(ctx.kb.operator.staff_text.get(ctx.lang)),
            ),
            rows(
                [
                    Btn(
                        ctx._("✅ Yes, contact me"), ResultsPayload(payload.assessment, "ok").pack()
                    ),
                    Btn(ctx._("No, thanks"), ResultsPayload(payload.assessment, "no").pack()),
                ],
                2,
            ),
        )
    elif action == "no":
        ctx.toast()
        ctx.edit(ctx.message_id, ctx._("OK, nothing was shared."))
    elif action == "ok":
        ctx.toast()
        assert company is not None and assessment.id is not None and company.id is not None
        if not await ctx.repo.contacts.add(ctx.user.id, company.id, assessment.id):
            ctx.edit(
                ctx.message_id,
                ctx._("Your request has already been passed on: you will be contacted here."),
            )
            await show_menu(ctx)
            return
        from dialogs import handoff  # the ticket is how staff reply through the bot

        staff = ctx.staff_t
        level = next(
            (
                lv.label.get(staff.lang)
                for lv in ctx.kb.questionnaire.levels
                if lv.id == assessment.level
            ),
            "",
        )
        business_id = f" ({company.business_id})" if company.business_id else ""
        summary = staff._(
            "Contact request after a KIERTO-kartoitus: {company}{business_id}, "
            "overall {score}/100, level {level}. /leads lists all requests.",
            company=company.name,
            business_id=business_id,
            score=staff.number(assessment.overall or 0),
            level=level,
        )
        answers = await ctx.repo.answers.values(assessment.id)
        for note in notes(ctx, answers):  # the company's own words, for the adviser
            summary += "\n\n" + staff._("Note from the company: {note}", note=note)
        await handoff.open_ticket(ctx, topic=f"contact:{assessment.id}", question=summary)
        ctx.edit(
            ctx.message_id,
            ctx._(
                "✅ Thank you! Your request is now with the staff of {operator}: you will be "
                "contacted here. {when}",
                operator=esc(ctx.kb.operator.name.get(ctx.lang)),
                when=esc(ctx.kb.operator.staff_text.get(ctx.lang)),
            ),
        )
        await show_menu(ctx, ctx._("Meanwhile, what would you like to do?"))


def who_answers_plain(ctx: Context) -> str:
    """The operator's contact as plain text (the PDF is not Telegram HTML)."""
    op = ctx.kb.operator
    return ctx._(
        "To reach {operator}: {contact}",
        operator=op.name.get(ctx.lang),
        contact=op.contact.get(ctx.lang),
    )


async def answer_open_questions(ctx: Context, assessment: Assessment) -> None:
    """Back into the kartoitus at the first open question; only the open ones follow."""
    from dialogs import kartoitus  # the kartoitus imports this module to show results

    assert assessment.id is not None
    answers = await ctx.repo.answers.values(assessment.id)
    gaps = score(ctx.kb, answers).gaps
    if not gaps:
        ctx.send(ctx._("✅ No open questions."))
        return
    assessment.status = "open"  # scored again when the company finishes
    await kartoitus.answer_gaps(ctx, assessment.id, gaps[0])


def chart_args(ctx: Context, result: Result, before: dict[str, Any], title: str) -> tuple[Any, ...]:
    """What `radar_png` needs, computed while the data is at hand."""
    themes = ctx.kb.questionnaire.themes
    return (
        [t.short.get(ctx.lang) for t in themes],
        [result.themes[t.id].score for t in themes],
        [before.get(t.id) for t in themes] if before else None,
        title,
        (ctx._("now"), ctx._("previous")),
    )


async def report_data(
    ctx: Context, assessment: Assessment, company: Company | None
) -> tuple[ReportData, tuple[Any, ...]]:
    """The report's content (and its chart's data), read within the unit of work."""
    kb, lang = ctx.kb, ctx.lang
    assert assessment.id is not None
    answers = await ctx.repo.answers.values(assessment.id)
    result = score(kb, answers)
    tips = best_tips(kb, answers)
    previous = await ctx.repo.assessments.latest_done(assessment.company_id, assessment.id)
    before = (previous.result or {}).get("themes", {}) if previous else {}
    level = next(lv for lv in kb.questionnaire.levels if lv.id == result.level)
    themes = [
        (
            t.title.get(lang),
            result.themes[t.id].score,
            _change(result.themes[t.id].score, before.get(t.id)),
        )
        for t in kb.questionnaire.themes
    ]
    sections: list[tuple[str, list[str]]] = []
    flags = [kb.questions[q].red_flag for q in result.red_flags]
    if flags:
        sections.append(
            (
                ctx._("Check these legal basics first"),
                [flag.text.get(lang) for flag in flags if flag is not None],
            )
        )
    sections.append(
        (
            ctx._("Your three best next steps"),
            [
                f"{i}. {r.tip.title.get(lang)} — {r.tip.text.get(lang)} ({_what_if(ctx, r)})"
                for i, r in enumerate(tips, 1)
            ],
        )
    )
    if result.gaps:
        sections.append(
            (
                ctx._("Open questions (“don't know” or skipped)"),
                [
                    f"• {kb.questions[q].text.get(lang)}"
                    + (f" ({kb.theme_of[q].title.get(lang)})" if q in kb.theme_of else "")
                    for q in result.gaps
                ],
            )
        )
    company_notes = notes(ctx, answers)
    if company_notes:
        sections.append((ctx._("Your note to the adviser"), company_notes))
    peers = await quickviews.peers_of(ctx, assessment.id, result)
    if peers:  # one paragraph: the report stays on one page
        sections.append((ctx._("Peer comparison"), [f"{peers[0]}: " + "; ".join(peers[1:])]))
    services = local_services(ctx, result, tips)
    if services:
        sections.append(
            (
                ctx._("Local help in Pirkanmaa"),
                [
                    f"{s.name.get(lang)} ({s.provider.get(lang)}): "
                    + (s.how.get(lang) if s.how else s.url or s.description.get(lang))
                    for s in services
                ],
            )
        )
    offered = [
        f"{o.name.get(lang)}: {o.what.get(lang)} "
        + ctx._("For: {whom}", whom=o.for_whom.get(lang))
        + f" {o.url or (o.contact.get(lang) if o.contact else '')}"
        for o in kb.operator.services
        if o.audience in ("company", "both")
    ]
    offered.append(who_answers_plain(ctx))
    sections.append(
        (ctx._("Offered today by {operator}", operator=kb.operator.name.get(lang)), offered)
    )
    date = ctx.t.date(assessment.completed_at or assessment.started_at, "long")
    data = ReportData(
        title=ctx._("KIERTO-kartoitus report"),
        subtitle=f"{company.name if company else ''} · {date} · "
        + ctx._("questionnaire {version}", version=assessment.version),
        overall_line=ctx._(
            "Overall score {score}/100 · {level}",
            score=ctx.t.number(result.overall),
            level=level.label.get(lang),
        ),
        level_text=level.description.get(lang),
        themes=themes,
        sections=sections,
        footer=ctx._("KIERTO – Kiertotaloudesta kasvua · City of Tampere · made by kierto-bot"),
        notice=self_assessment_notice(ctx.t),
    )
    return data, chart_args(ctx, result, before, "")
