"""The coordinators' own pages: dashboard, companies, a company, per-question statistics,
exports and the audit log."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.backoffice.auth import Viewer
from bot.backoffice.review import company_view, pdf_bytes
from bot.backoffice.web import Backoffice
from dialogs import stats
from dialogs.render import exports
from dialogs.render.charts import bars_png
from locales.i18n import Translator

PAGE_SIZE = 50


def png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def labels(bo: Backoffice, t: Translator) -> dict[str, dict[str, str]]:
    """Display names of option ids, levels and themes in the reviewer's language."""
    kb = bo.kb
    return {
        "industry": {o.id: o.label.get(t.lang) for o in kb.options.get("industry", ())},
        "size": {o.id: o.label.get(t.lang) for o in kb.options.get("size", ())},
        "level": {lv.id: lv.label.get(t.lang) for lv in kb.questionnaire.levels},
        "theme": {th.id: th.title.get(t.lang) for th in kb.questionnaire.themes},
        "short": {th.id: th.short.get(t.lang) for th in kb.questionnaire.themes},
        "question": {qid: q.text.get(t.lang) for qid, q in kb.questions.items()},
        "placement": {p.id: p.name.get(t.lang) for p in kb.placements.placements},
    }


def _filters(bo: Backoffice, request: Request) -> tuple[stats.Filters, list[str]]:
    return stats.Filters.parse(request.query_params, bo.kb)


def _bad_note(t: Translator, bad: list[str]) -> str:
    if not bad:
        return ""
    return t._(
        "These filters had a value I could not read and were left out: {names}. "
        "Dates are YYYY-MM-DD, scores 0–100.",
        names=", ".join(bad),
    )


async def dashboard(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    filters, bad = _filters(bo, request)
    async with bo.db.unit() as repo:
        data = await stats.dashboard(repo, bo.kb, filters)
    names = labels(bo, t)
    themes = [th.id for th in bo.kb.questionnaire.themes]

    def draw() -> dict[str, str]:
        charts: dict[str, str] = {}
        if data.per_week:
            charts["weeks"] = png(
                bars_png(
                    [w for w, _, _ in data.per_week],
                    [[s for _, s, _ in data.per_week], [d for _, _, d in data.per_week]],
                    [t._("started"), t._("finished")],
                    horizontal=False,
                )
            )
        if data.finished:
            charts["levels"] = png(
                bars_png(
                    [names["level"].get(lv, lv) for lv, _ in data.levels],
                    [[n for _, n in data.levels]],
                )
            )
            charts["themes"] = png(
                bars_png(
                    [names["short"][th] for th in themes],
                    [[data.themes.get(th) or 0 for th in themes]],
                    limit=100,
                )
            )
        return charts

    charts = await asyncio.to_thread(draw)  # matplotlib off the event loop
    return bo.render(
        request,
        viewer,
        "dashboard.html",
        d=data,
        charts=charts,
        names=names,
        themes=themes,
        filters=filters,
        note=_bad_note(t, bad),
    )


async def companies(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    filters, bad = _filters(bo, request)
    try:
        page = max(1, min(10_000, int(request.query_params.get("page", "1"))))
    except ValueError:
        page, bad = 1, [*bad, "page"]
    async with bo.db.unit() as repo:
        found = await stats.rows(repo, filters)
        repo.audit.log("view_company_list", subject=str(len(found)), actor_id=viewer.user_id)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return bo.render(
        request,
        viewer,
        "companies.html",
        rows=shown,
        total=len(found),
        page=page,
        pages=max(1, (len(found) + PAGE_SIZE - 1) // PAGE_SIZE),
        filters=filters,
        query=filters.query(),
        names=labels(bo, t),
        options=_filter_options(bo, t),
        note=_bad_note(t, bad),
    )


def _filter_options(bo: Backoffice, t: Translator) -> dict[str, list[tuple[str, str]]]:
    names = labels(bo, t)
    return {
        "industry": list(names["industry"].items()),
        "size": list(names["size"].items()),
        "level": list(names["level"].items()),
        "status": [("finished", t._("finished")), ("unfinished", t._("unfinished"))],
        "contact": [("yes", t._("yes")), ("no", t._("no"))],
    }


async def company(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    company_id = request.path_params["company_id"]
    chosen = request.query_params.get("a", "")
    view = await company_view(
        bo, t, company_id, int(chosen) if chosen.isdigit() else None, viewer.user_id
    )
    if view is None:
        return bo.error(request, viewer, 404, t._("There is no such company or assessment."))
    return bo.render(request, viewer, "company.html", v=view, names=labels(bo, t))


async def company_pdf(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    chosen = request.query_params.get("a", "")
    made = await pdf_bytes(
        bo,
        t,
        request.path_params["company_id"],
        int(chosen) if chosen.isdigit() else None,
        viewer.user_id,
    )
    if made is None:
        return bo.error(request, viewer, 404, t._("There is no finished kartoitus to print."))
    data, name = made
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def questions(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    filters, bad = _filters(bo, request)
    async with bo.db.unit() as repo:
        found = await stats.rows(repo, filters)
        answers = await stats.answers_of(repo, [r.assessment.id for r in found])
    table = stats.question_stats(bo.kb, answers, t.lang)
    return bo.render(
        request,
        viewer,
        "questions.html",
        table=table,
        total=len(found),
        filters=filters,
        query=filters.query(),
        options=_filter_options(bo, t),
        note=_bad_note(t, bad),
    )


async def export(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    fmt = request.path_params["fmt"]
    if fmt not in ("xlsx", "csv"):
        return bo.error(request, viewer, 404, t._("Unknown export format."))
    filters, bad = _filters(bo, request)
    if bad:
        return bo.error(request, viewer, 400, _bad_note(t, bad))
    anonymised = request.query_params.get("anonymised") == "1"
    async with bo.db.unit() as repo:
        try:
            data = await exports.export(repo, bo.kb, fmt, filters, anonymised)
        except exports.ExportTooLarge as exc:
            return bo.error(
                request,
                viewer,
                413,
                t._(
                    "The export has too many rows ({table}). Narrow the filters (dates).",
                    table=str(exc),
                ),
            )
        action = f"export_{fmt}" + ("_anon" if anonymised else "")
        subject = "&".join(f"{k}={v}" for k, v in filters.query().items())
        repo.audit.log(action, subject=subject, actor_id=viewer.user_id)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    suffix = "-anon" if anonymised else ""
    name = f"kierto-{stamp}{suffix}." + ("xlsx" if fmt == "xlsx" else "zip")
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "application/zip"
    )
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


async def audit_log(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    async with bo.db.unit() as repo:
        entries = await repo.audit.recent(500)
    return bo.render(request, viewer, "audit.html", entries=entries)


def routes(wrap: Callable[[Any], Any]) -> list[Route]:
    return [
        Route("/", wrap(dashboard)),
        Route("/companies", wrap(companies)),
        Route("/companies/{company_id:int}", wrap(company)),
        Route("/companies/{company_id:int}/pdf", wrap(company_pdf)),
        Route("/questions", wrap(questions)),
        Route("/export/{fmt:str}", wrap(export)),
        Route("/audit", wrap(audit_log)),
    ]
