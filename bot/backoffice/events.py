"""Haastepaja events for staff and coordinators: the list with live counts, one event's
RSVPs, and its attendee list as CSV or XLSX.

The counts are the ones `/events` shows in Telegram (the same store and delivery
functions). Names and companies appear only when the person agreed to share them for
that event (attendee details); otherwise "—".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.backoffice.auth import Viewer
from bot.backoffice.web import Backoffice
from dialogs.haastepaja import clock, deliver
from dialogs.haastepaja.staff import STATUS_NAMES
from dialogs.haastepaja.when import fmt_span
from dialogs.render.haastepaja import AttendeeRow, attendees_csv, attendees_xlsx
from dialogs.store.haastepaja import HaastepajaEvent
from dialogs.store.repo import Repository
from locales.i18n import Translator

LISTED = 50  # events per section; older ones stay in the tables view


async def delivery_counts(repo: Repository, event_id: int) -> dict[str, int]:
    """Invitation deliveries of all the event's broadcasts, per outbox status."""
    total = dict.fromkeys(deliver.STATUSES, 0)
    for broadcast in await repo.broadcasts.of_event(event_id):
        for status, n in (await deliver.counts(repo, broadcast.id or 0)).items():
            total[status] += n
    return total


async def summary(repo: Repository, event: HaastepajaEvent, t: Translator) -> dict[str, Any]:
    assert event.id is not None
    sent = await delivery_counts(repo, event.id)
    rsvps = await repo.rsvps.counts(event.id)
    title, _ = event.text("title", t.lang)
    return {
        "event": event,
        "title": title,
        "when": fmt_span(event.starts_at, event.ends_at, t.lang),
        "invited": sum(sent.values()),
        "delivered": sent["sent"],
        "blocked": sent["blocked"],
        "unknown": sent["unknown"],
        **rsvps,
    }


async def events(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    now = clock.now()
    async with bo.db.unit() as repo:
        upcoming = await repo.hp_events.listing(now, upcoming=True, limit=LISTED)
        past = await repo.hp_events.listing(now, upcoming=False, limit=LISTED)
        sections = [
            (t._("Upcoming"), [await summary(repo, e, t) for e in upcoming]),
            (t._("Past"), [await summary(repo, e, t) for e in past]),
        ]
        repo.audit.log(
            "view_events", subject=str(len(upcoming) + len(past)), actor_id=viewer.user_id
        )
    return bo.render(request, viewer, "events.html", sections=sections)


def _status_names(t: Translator) -> dict[str, str]:
    return {status: t._(name) for status, name in STATUS_NAMES.items()}


async def event(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    t = bo.translator(request, viewer)
    event_id = request.path_params["event_id"]
    async with bo.db.unit() as repo:
        found = await repo.hp_events.get(event_id)
        if found is None:
            return bo.error(request, viewer, 404, t._("There is no such event."))
        info = await summary(repo, found, t)
        rsvps = await repo.rsvps.of_event(event_id)
        details = await repo.attendees.of_event(event_id)
        repo.audit.log("view_event", subject=f"haastepaja:{event_id}", actor_id=viewer.user_id)
    order = {"going": 0, "waitlist": 1, "not_going": 2}
    people = [
        {"rsvp": r, "details": details.get(r.user_id)}
        for r in sorted(rsvps, key=lambda r: order.get(r.status, 3))
    ]
    return bo.render(request, viewer, "event.html", e=info, people=people, names=_status_names(t))


async def export(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    """The attendee list, as `/events` sends it: those coming or waiting, names only with
    consent; every cell is escaped against spreadsheet formulas by the render module."""
    t = bo.translator(request, viewer)
    event_id = request.path_params["event_id"]
    kind = request.path_params["kind"]
    async with bo.db.unit() as repo:
        found = await repo.hp_events.get(event_id)
        if found is None or kind not in ("csv", "xlsx"):
            return bo.error(request, viewer, 404, t._("There is no such event."))
        details = await repo.attendees.of_event(event_id)
        names = _status_names(t)
        table = []
        for status in ("going", "waitlist"):
            for rsvp in await repo.rsvps.of_event(event_id, status):
                d = details.get(rsvp.user_id)
                table.append(
                    AttendeeRow(
                        status=names[status],
                        name=d.name if d else "",
                        company=d.company if d else "",
                        checked_in=t.datetime(rsvp.checked_in_at) if rsvp.checked_in_at else "",
                        answered=t.datetime(rsvp.changed_at),
                    )
                )
        repo.audit.log("export", subject=f"haastepaja:{event_id}:{kind}", actor_id=viewer.user_id)
    header = (t._("Status"), t._("Name"), t._("Company"), t._("Checked in"), t._("Answered"))
    title, _ = found.text("title", t.lang)
    if kind == "csv":
        data, media = attendees_csv(header, table), "text/csv; charset=utf-8"
    else:
        data = attendees_xlsx(title, header, table)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="haastepaja-{event_id}.{kind}"'},
    )


def routes(wrap: Callable[[Any], Any]) -> list[Route]:
    return [
        Route("/events", wrap(events)),
        Route("/events/{event_id:int}", wrap(event)),
        Route("/events/{event_id:int}/attendees.{kind:str}", wrap(export)),
    ]
