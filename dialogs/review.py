"""Coordinators' quick views in the chat: leads and statistics.

Leads are the people who asked to be contacted (companies after a kartoitus, job seekers
interested in a placement). Viewing them is written to the audit log.
"""

from __future__ import annotations

from collections import Counter
from statistics import mean

from dialogs.router import Context, Router
from dialogs.ui import bar, esc
from locales.i18n import N_

router = Router("review")


@router.command(
    "leads", role="coordinator", help=N_("new contact requests and placement interests")
)
async def leads(ctx: Context, args: str) -> None:
    contacts = await ctx.repo.contacts.open()
    interests = await ctx.repo.interests.open()
    lines = [ctx._("📥 <b>New leads</b> (not answered yet)")]
    if not contacts and not interests:
        lines.append(ctx._("No new leads."))
    for request in contacts[-20:]:
        company = await ctx.repo.companies.get(request.company_id)
        assessment = await ctx.repo.assessments.get(request.assessment_id)
        score = ctx.t.number(assessment.overall or 0) if assessment else "?"
        lines.append(
            ctx._(
                "🏢 {company} {business_id} · {score}/100 · {date}",
                company=esc(company.name if company else "?"),
                business_id=esc(company.business_id or "") if company else "",
                score=score,
                date=ctx.t.date(request.created_at),
            )
        )
        answers = await ctx.repo.answers.values(request.assessment_id)
        for qid, value in answers.items():  # the company's free-text note to the adviser
            question = ctx.kb.questions.get(qid)
            if question is not None and question.type == "text" and str(value).strip():
                note = str(value).strip()
                note = note if len(note) <= 300 else note[:299] + "…"
                lines.append(f"   ✍️ <i>{esc(note)}</i>")
    for interest in interests[-20:]:
        placement = ctx.kb.placement(interest.placement_id)
        name = placement.name.get(ctx.lang) if placement else interest.placement_id
        lines.append(
            ctx._(
                "🧰 {placement} · {date}", placement=esc(name), date=ctx.t.date(interest.created_at)
            )
        )
    lines.append("")
    lines.append(ctx._("Answer people through their tickets: /tickets"))
    ctx.repo.audit.log("view_leads", actor_id=ctx.user.id)
    ctx.send("\n".join(lines))


@router.command("stats", role="coordinator", help=N_("kartoitus statistics"))
async def stats(ctx: Context, args: str) -> None:
    done = await ctx.repo.assessments.done()
    lines = [ctx._("📈 <b>KIERTO-kartoitus statistics</b>")]
    lines.append(ctx.n_("{n} completed assessment", "{n} completed assessments", len(done)))
    if done:
        lines.append(
            ctx._(
                "Average overall score: {score}/100",
                score=ctx.t.number(mean(a.overall or 0 for a in done)),
            )
        )
        levels = Counter(a.level for a in done)
        for level in ctx.kb.questionnaire.levels:
            share = levels.get(level.id, 0) / len(done)
            lines.append(f"{bar(share)} {levels.get(level.id, 0)} {esc(level.label.get(ctx.lang))}")
        lines.append("")
        lines.append(ctx._("Average per theme:"))
        for theme in ctx.kb.questionnaire.themes:
            values = [
                v
                for a in done
                if (v := (a.result or {}).get("themes", {}).get(theme.id)) is not None
            ]
            if values:
                average = mean(values)
                lines.append(f"{bar(average / 100)} {average:.0f} {esc(theme.title.get(ctx.lang))}")
    interests = await ctx.repo.interests.all()
    if interests:
        lines += ["", ctx._("Placement interests:")]
        for placement_id, count in Counter(i.placement_id for i in interests).most_common():
            placement = ctx.kb.placement(placement_id)
            name = placement.name.get(ctx.lang) if placement else placement_id
            lines.append(f"{count} · {esc(name)}")
    misses = await ctx.repo.misses.recent(10)
    if misses:
        lines += ["", ctx._("Latest questions I could not answer (to grow the FAQ):")]
        lines += [f"• {esc(m.text[:100])}" for m in misses]
    ctx.send("\n".join(lines))
