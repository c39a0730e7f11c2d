"""Leads and tickets as queues (status and owner), a ticket's whole conversation with a
reply form, and the job seekers' page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.backoffice.auth import Viewer
from bot.backoffice.pages import labels
from bot.backoffice.web import Backoffice
from dialogs import staffdesk, stats
from dialogs.store.models import Assessment, Company, ContactRequest, Ticket


def _status_filter(request: Request, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get("status", "")
    return value if value in allowed else None


async def leads(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    status = _status_filter(request, staffdesk.LEAD_STATUSES)
    async with bo.db.unit() as repo:
        stmt = (
            select(ContactRequest, Company, Assessment)
            .join(Company, Company.id == ContactRequest.company_id)
            .join(Assessment, Assessment.id == ContactRequest.assessment_id)
            .order_by(ContactRequest.id.desc())
        )
        if status:
            stmt = stmt.where(ContactRequest.status == status)
        found = (await repo.session.execute(stmt.limit(500))).all()
        tickets = {
            x.topic: x.id
            for x in (
                await repo.session.execute(select(Ticket).where(Ticket.topic.like("contact:%")))
            ).scalars()
        }
        notes = {}
        for _, _, a in found:
            stored = await repo.answers.of(a.id)
            notes[a.id] = " ".join(
                x.text
                for q, x in stored.items()
                if x.text
                and bo.kb.questions.get(q) is not None
                and bo.kb.questions[q].type == "text"
            )
        repo.audit.log("view_leads", subject=str(len(found)), actor_id=viewer.user_id)
    return bo.render(
        request,
        viewer,
        "leads.html",
        rows=found,
        tickets=tickets,
        notes=notes,
        current=status,
        statuses=staffdesk.LEAD_STATUSES,
        names=labels(bo, t),
    )


async def lead_update(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    status = str(form.get("status", ""))
    async with bo.db.unit() as repo:
        lead = await repo.session.get(ContactRequest, request.path_params["lead_id"])
        if lead is None:
            t = bo.translator(request, viewer)
            return bo.error(request, viewer, 404, t._("There is no such lead."))
        if status in staffdesk.LEAD_STATUSES:
            lead.status = status
        if form.get("take") == "1":
            lead.owner_id = viewer.user_id
        repo.audit.log(
            "lead_update",
            subject=f"lead:{lead.id}:{lead.status}",
            actor_id=viewer.user_id,
            about_user_id=lead.user_id,
        )
    return RedirectResponse("/leads", status_code=303)


async def tickets(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    status = _status_filter(request, staffdesk.TICKET_STATUSES)
    async with bo.db.unit() as repo:
        stmt = select(Ticket).order_by(Ticket.id.desc())
        if status:
            stmt = stmt.where(Ticket.status == status)
        found = list((await repo.session.execute(stmt.limit(500))).scalars())
    return bo.render(
        request,
        viewer,
        "tickets.html",
        rows=found,
        current=status,
        statuses=staffdesk.TICKET_STATUSES,
    )


async def ticket(bo: Backoffice, request: Request, viewer: Viewer, sent: bool = False) -> Response:
    t = bo.translator(request, viewer)
    ticket_id = request.path_params["ticket_id"]
    async with bo.db.unit() as repo:
        found = await repo.tickets.get(ticket_id)
        if found is None:
            return bo.error(request, viewer, 404, t._("There is no such ticket."))
        messages = await repo.ticket_messages.of(ticket_id)
        repo.audit.log(
            "view_ticket",
            subject=f"ticket:{ticket_id}",
            actor_id=viewer.user_id,
            about_user_id=found.user_id,
        )
    return bo.render(
        request,
        viewer,
        "ticket.html",
        ticket=found,
        messages=messages,
        statuses=staffdesk.TICKET_STATUSES,
        sent=request.query_params.get("sent") == "1",
    )


async def ticket_post(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    ticket_id = request.path_params["ticket_id"]
    form = await request.form()
    text = str(form.get("reply", "")).strip()
    status = str(form.get("status", ""))
    async with bo.db.unit() as repo:
        found = await repo.tickets.get(ticket_id)
        if found is None:
            return bo.error(request, viewer, 404, t._("There is no such ticket."))
        if text:
            if len(text) > staffdesk.REPLY_MAX:
                return bo.error(
                    request,
                    viewer,
                    400,
                    t._("The reply is too long: at most {n} characters.", n=staffdesk.REPLY_MAX),
                )
            if await staffdesk.reply(repo, bo.i18n, bo.kb, ticket_id, viewer.user_id, text) is None:
                return bo.error(
                    request,
                    viewer,
                    410,
                    t._(
                        "The person behind this ticket has erased their data; the answer "
                        "cannot be delivered."
                    ),
                )
            repo.audit.log(
                "ticket_reply",
                subject=f"ticket:{ticket_id}",
                actor_id=viewer.user_id,
                about_user_id=found.user_id,
            )
        elif status in staffdesk.TICKET_STATUSES:
            found.status = status
        if form.get("take") == "1":
            found.owner_id = viewer.user_id
    return RedirectResponse(f"/tickets/{ticket_id}" + ("?sent=1" if text else ""), status_code=303)


async def jobseekers(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    filters, _bad = stats.Filters.parse(request.query_params, bo.kb)
    async with bo.db.unit() as repo:
        data = stats.Dashboard()
        await stats.jobseekers(repo, data, filters)
    return bo.render(request, viewer, "jobseekers.html", d=data, names=labels(bo, t))


def routes(wrap: Callable[[Any], Any]) -> list[Route]:
    return [
        Route("/leads", wrap(leads)),
        Route("/leads/{lead_id:int}", wrap(lead_update), methods=["POST"]),
        Route("/tickets", wrap(tickets)),
        Route("/tickets/{ticket_id:int}", wrap(ticket)),
        Route("/tickets/{ticket_id:int}", wrap(ticket_post), methods=["POST"]),
        Route("/jobseekers", wrap(jobseekers)),
    ]
