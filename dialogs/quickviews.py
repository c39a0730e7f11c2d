"""Staff and coordinators' quick views in the chat, for the phone: whole tickets, one
ticket's conversation, leads with their ticket and note, statistics over a period, and
the peer comparison lines of a company's results. The back office shows the same data at
length; the figures come from dialogs/stats.py for both."""

from __future__ import annotations

from typing import Any

from dialogs import stats
from dialogs.store.models import Ticket
from dialogs.ui import bar, esc
from locales.i18n import Translator

MAX_DAYS = 3650
TICKETS_SHOWN = 15


async def ticket_text(ctx: Any, ticket: Ticket) -> str:
    """A ticket with its whole conversation (in the staff chat, in its one language)."""
    staff: Translator = ctx.t
    assert ticket.id is not None
    lines = [
        staff._(
            "🙋 <b>Ticket #{id}</b> · language: {lang} · source: {topic}",
            id=ticket.id,
            lang=ticket.locale,
            topic=esc(ticket.topic),
        )
        + f" · {esc(ticket.status)} · {staff.datetime(ticket.created_at)}",
        "",
        esc(ticket.question),
    ]
    for message in await ctx.repo.ticket_messages.of(ticket.id):
        who = staff._("staff") if message.author == "staff" else staff._("the person")
        lines += ["", f"<i>{staff.datetime(message.at)} · {who}</i>", esc(message.text)]
    return "\n".join(lines)


async def tickets(ctx: Any, args: str) -> None:
    """`/tickets`: the open tickets whole; `/tickets N` or `/ticket N`: one of them."""
    number = args.strip().lstrip("#")
    if number:
        await ticket(ctx, number)
        return
    found = await ctx.repo.tickets.open()
    if not found:
        ctx.send(ctx._("No open tickets. 🎉"))
        return
    head = ctx.n_("{n} open ticket:", "{n} open tickets:", len(found))
    texts = [await ticket_text(ctx, x) for x in found[:TICKETS_SHOWN]]
    ctx.send("\n\n".join([head, *texts]))
    if len(found) > TICKETS_SHOWN:
        ctx.send(
            ctx._(
                "… and {n} more: open one with /ticket NUMBER, or see all in the back office "
                "(/admin).",
                n=len(found) - TICKETS_SHOWN,
            )
        )


async def ticket(ctx: Any, args: str) -> None:
    number = args.strip().lstrip("#")
    if not number.isdigit() or len(number) > 9:
        ctx.send(ctx._("Usage: /ticket 12"))
        return
    found = await ctx.repo.tickets.get(int(number))
    if found is None:
        ctx.send(
            ctx._(
                "There is no ticket #{id} (if it existed, the person has erased their data).",
                id=int(number),
            )
        )
        return
    ctx.repo.audit.log(
        "view_ticket",
        subject=f"ticket:{found.id}",
        actor_id=ctx.user.id,
        about_user_id=found.user_id,
    )
    ctx.send(await ticket_text(ctx, found))


def _note(kb: Any, answers: dict[str, Any]) -> str:
    return " ".join(
        a.text
        for q, a in answers.items()
        if a.text and q in kb.questions and kb.questions[q].type == "text"
    )


async def leads(ctx: Any, args: str) -> None:
    """New leads with their ticket numbers and the note to the adviser."""
    contacts = await ctx.repo.contacts.open()
    interests = await ctx.repo.interests.open()
    lines = [ctx._("📥 <b>New leads</b> (not answered yet)")]
    if not contacts and not interests:
        lines.append(ctx._("No new leads."))
    for request in contacts[-20:]:
        company = await ctx.repo.companies.get(request.company_id)
        assessment = await ctx.repo.assessments.get(request.assessment_id)
        score = ctx.t.number(assessment.overall or 0) if assessment else "?"
        line = ctx._(
            "🏢 {company} {business_id} · {score}/100 · {date}",
            company=esc(company.name if company else "?"),
            business_id=esc(company.business_id or "") if company else "",
            score=score,
            date=ctx.t.date(request.created_at),
        )
        tickets = await ctx.repo.tickets.of_user(request.user_id)
        match = next((x for x in tickets if x.topic == f"contact:{request.assessment_id}"), None)
        if match is not None:
            line += " · " + ctx._("ticket #{id}", id=match.id)
        note = _note(ctx.kb, await ctx.repo.answers.of(request.assessment_id))
        if note:
            line += "\n" + ctx._("Note to the adviser") + f": <i>{esc(note)}</i>"
        lines.append(line)
    for interest in interests[-20:]:
        placement = ctx.kb.placement(interest.placement_id)
        name = placement.name.get(ctx.lang) if placement else interest.placement_id
        line = ctx._(
            "🧰 {placement} · {date}", placement=esc(name), date=ctx.t.date(interest.created_at)
        )
        tickets = await ctx.repo.tickets.of_user(interest.user_id)
        match = next((x for x in tickets if x.topic == f"placement:{interest.placement_id}"), None)
        if match is not None:
            line += " · " + ctx._("ticket #{id}", id=match.id)
        lines.append(line)
    lines.append("")
    lines.append(ctx._("Answer people through their tickets: /tickets"))
    ctx.repo.audit.log("view_leads", actor_id=ctx.user.id)
    ctx.send("\n".join(lines))


async def stats_view(ctx: Any, args: str) -> None:
    """`/stats` (everything) or `/stats 30` (the last 30 days)."""
    raw = args.strip()
    filters = stats.Filters()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            ctx.send(ctx._("Usage: /stats or /stats 30 (the last 30 days)."))
            return
        filters = filters.since_days(int(raw))
    data = await stats.dashboard(ctx.repo, ctx.kb, filters)
    lang = ctx.lang
    lines = [ctx._("📈 <b>KIERTO-kartoitus statistics</b>")]
    if raw:
        lines.append(ctx.n_("the last {n} day", "the last {n} days", int(raw)))
    lines.append(ctx.n_("{n} completed assessment", "{n} completed assessments", data.finished))
    lines.append(
        ctx._("started")
        + f": {data.started} · "
        + ctx._("completion rate")
        + f": {ctx.t.percent(data.completion)}"
    )
    if data.finished:
        levels = dict(data.levels)
        for level in ctx.kb.questionnaire.levels:
            count = levels.get(level.id, 0)
            lines.append(f"{bar(count / data.finished)} {count} {esc(level.label.get(lang))}")
        lines += ["", ctx._("Average per theme:")]
        for theme in ctx.kb.questionnaire.themes:
            average = data.themes.get(theme.id)
            if average is not None:
                lines.append(f"{bar(average / 100)} {average:.0f} {esc(theme.title.get(lang))}")
    if data.interests:
        lines += ["", ctx._("Placement interests:")]
        for placement_id, count in data.interests:
            placement = ctx.kb.placement(placement_id)
            name = placement.name.get(lang) if placement else placement_id
            lines.append(f"{count} · {esc(name)}")
    if data.faq_gaps:
        lines += ["", ctx._("Latest questions I could not answer (to grow the FAQ):")]
        lines += [f"• {esc(text[:100])} ({n})" for text, n in data.faq_gaps[:10]]
    ctx.send("\n".join(lines))


def peer_lines(t: Translator, kb: Any, themes: dict[str, Any], peers: Any) -> list[str]:
    """Where a company stands per theme against its peers: "your score · median (lower
    quartile–upper quartile)". Empty when no group has enough companies."""
    if peers is None:
        return []
    key, group, table = peers
    option = kb.option(key, group)
    name = option.label.get(t.lang) if option else group
    lines = [
        t._(
            "Compared with {n} companies of the same group ({group}): your score · their "
            "median (the middle half)",
            n=max(q.n for q in table.values()),
            group=name,
        )
    ]
    for theme in kb.questionnaire.themes:
        q = table.get(theme.id)
        mine = themes.get(theme.id)
        if q is None or mine is None:
            continue
        lines.append(
            f"{theme.title.get(t.lang)}: {t.number(mine)} · {t.number(q.median)} "
            f"({t.number(q.q1)}–{t.number(q.q3)})"
        )
    return lines


async def peers_of(ctx: Any, assessment_id: int, result: Any) -> list[str]:
    """The peer comparison lines for a company's results and PDF (empty below 10)."""
    stored = await ctx.repo.answers.of(assessment_id)
    industry, size = (
        (a.value if isinstance(a.value, str) else None) if (a := stored.get(q)) else None
        for q in ("industry", "size")
    )
    peers = await stats.peers_for(ctx.repo, ctx.kb, industry, size)
    scores = {theme_id: s.score for theme_id, s in result.themes.items()}
    return peer_lines(ctx.t, ctx.kb, scores, peers)
