"""A company as a coordinator reviews it: every answer as given, theme scores, the radar
chart, the note to the adviser, retakes with the change per theme, the lead, the PDF.
Opening it is written to the audit log."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bot.backoffice.web import Backoffice
from dialogs import stats
from dialogs.quickviews import peer_lines
from dialogs.render.charts import radar_png
from dialogs.render.report import render_pdf
from dialogs.scoring import applies, score
from dialogs.store.models import Assessment, Company, ContactRequest, Ticket
from dialogs.store.repo import Repository
from locales.i18n import Translator


@dataclass
class AnswerLine:
    qid: str
    theme: str
    question: str
    answer: str
    dont_know: bool = False
    free_text: bool = False


@dataclass
class CompanyView:
    company: Company
    assessments: list[Assessment]
    chosen: Assessment
    answers: list[AnswerLine]
    themes: list[tuple[str, float | None, float | None]]  # title, score, change
    notes: list[str]
    lead: ContactRequest | None
    lead_ticket: Ticket | None
    chart: str = ""
    flags: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # dialogs.quickviews.peer_lines


@dataclass
class ReviewContext:
    """What `dialogs.results.report_data` reads from a flow's context, for a reviewer."""

    kb: Any
    repo: Repository
    t: Translator

    @property
    def lang(self) -> str:
        return self.t.lang

    def _(self, message: str, /, **values: object) -> str:
        return self.t._(message, **values)


def _label(bo: Backoffice, lang: str, qid: str, value: Any, text: str | None) -> tuple[str, bool]:
    if value is None:
        return (text or ""), False
    values = value if isinstance(value, list) else [value]
    parts, dk = [], False
    for v in values:
        option = bo.kb.option(qid, v) if isinstance(v, str) else None
        parts.append(option.label.get(lang) if option else str(v))
        dk = dk or bool(option and option.dk)
    return "; ".join(parts), dk


async def _load(
    repo: Repository, company_id: int, assessment_id: int | None
) -> tuple[Company, list[Assessment], Assessment] | None:
    company = await repo.companies.get(company_id)
    if company is None:
        return None
    from sqlalchemy import select

    found = list(
        (
            await repo.session.execute(
                select(Assessment)
                .where(Assessment.company_id == company_id)
                .order_by(Assessment.id.desc())
            )
        ).scalars()
    )
    if not found:
        return None
    if assessment_id is None:
        chosen = next((a for a in found if a.status == "done"), found[0])
    else:  # only an assessment of this company: a tampered id finds nothing
        chosen = next((a for a in found if a.id == assessment_id), None)
        if chosen is None:
            return None
    return company, found, chosen


async def company_view(
    bo: Backoffice, t: Translator, company_id: int, assessment_id: int | None, actor: int
) -> CompanyView | None:
    lang = t.lang
    async with bo.db.unit() as repo:
        loaded = await _load(repo, company_id, assessment_id)
        if loaded is None:
            return None
        company, found, chosen = loaded
        assert chosen.id is not None
        stored = await repo.answers.of(chosen.id)
        lead = next(
            (
                c
                for c in await repo.contacts.of_user(company.user_id)
                if c.assessment_id == chosen.id
            ),
            None,
        )
        lead_ticket = None
        if lead is not None:
            tickets = await repo.tickets.of_user(company.user_id)
            lead_ticket = next((x for x in tickets if x.topic == f"contact:{chosen.id}"), None)
        industry, size = (
            (a.value if isinstance(a.value, str) else None) if (a := stored.get(q)) else None
            for q in ("industry", "size")
        )
        peers = await stats.peers_for(repo, bo.kb, industry, size)
        repo.audit.log(
            "view_company",
            subject=f"company:{company_id}/a:{chosen.id}",
            actor_id=actor,
            about_user_id=company.user_id,
        )
    values = {q: (a.text if a.value is None else a.value) for q, a in stored.items()}
    lines, notes = [], []
    for qid, question in bo.kb.questions.items():
        theme = bo.kb.theme_of.get(qid)
        if qid not in stored and (
            chosen.status != "done" or (theme is not None and not applies(question, values))
        ):
            continue  # not asked of this company, or not reached yet
        answer = stored.get(qid)
        text, dk = _label(
            bo, lang, qid, answer.value if answer else None, answer.text if answer else None
        )
        free = question.type == "text"
        if free and text:
            notes.append(text)
        lines.append(
            AnswerLine(
                qid,
                theme.title.get(lang) if theme else t._("Profile"),
                question.text.get(lang),
                text or "—",
                dk,
                free,
            )
        )
    result = score(bo.kb, values)
    done = [a for a in found if a.status == "done"]
    previous = next((a for a in done if a.id is not None and a.id < chosen.id), None)
    before = (previous.result or {}).get("themes", {}) if previous else {}
    themes = []
    for theme in bo.kb.questionnaire.themes:
        now = result.themes[theme.id].score
        old = before.get(theme.id)
        change = None if now is None or old is None else round(now - float(old), 1)
        themes.append((theme.title.get(lang), now, change))
    view = CompanyView(company, found, chosen, lines, themes, notes, lead, lead_ticket)
    if chosen.status == "done":
        view.peers = peer_lines(t, bo.kb, {k: v.score for k, v in result.themes.items()}, peers)
    view.flags = [
        flag.text.get(lang)
        for q in result.red_flags
        if (flag := bo.kb.questions[q].red_flag) is not None
    ]
    if chosen.status == "done":
        shorts = [th.short.get(lang) for th in bo.kb.questionnaire.themes]
        now_values = [s for _, s, _ in themes]
        old_values = [before.get(th.id) for th in bo.kb.questionnaire.themes] if before else None

        def draw() -> bytes:
            return radar_png(shorts, now_values, old_values, "", (t._("now"), t._("previous")))

        import base64

        chart = await asyncio.to_thread(draw)
        view.chart = "data:image/png;base64," + base64.b64encode(chart).decode()
    return view


async def pdf_bytes(
    bo: Backoffice, t: Translator, company_id: int, assessment_id: int | None, actor: int
) -> tuple[bytes, str] | None:
    from dialogs.results import report_data

    async with bo.db.unit() as repo:
        loaded = await _load(repo, company_id, assessment_id)
        if loaded is None or loaded[2].status != "done":
            return None
        company, _, chosen = loaded
        data, chart = await report_data(ReviewContext(bo.kb, repo, t), chosen, company)  # type: ignore[arg-type]
        repo.audit.log(
            "pdf",
            subject=f"company:{company_id}/a:{chosen.id}",
            actor_id=actor,
            about_user_id=company.user_id,
        )
    name = re.sub(r"[^a-z0-9]+", "-", company.name.lower()).strip("-") or "report"

    def build() -> bytes:
        return render_pdf(replace(data, chart_png=radar_png(*chart)))

    return await asyncio.to_thread(build), f"kierto-kartoitus-{name}-{chosen.id}.pdf"
