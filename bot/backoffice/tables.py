"""The raw tables, read-only, through SQLAdmin (list, sort, search, filter, details).

SQLAdmin mounts its own Starlette app; we wrap it so that the same guard as on our pages
decides who gets in (coordinators only) and every opening is audited. Its own export is
turned off: exports go through dialogs/render/exports.py, which escapes formulas and
writes the audit log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import Admin, ModelView
from sqladmin.filters import AllUniqueStringValuesFilter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from bot.backoffice import auth
from bot.backoffice.web import Backoffice
from dialogs.store.models import (
    Assessment,
    AuditEntry,
    Company,
    ContactRequest,
    FaqMiss,
    PlacementInterest,
    PlacementVote,
    Ticket,
)

BASE = "/tables"


class ReadOnly(ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 50
    page_size_options: ClassVar = [25, 50, 100]


class CompanyTable(ReadOnly, model=Company):
    column_list: ClassVar = [Company.id, Company.name, Company.business_id, Company.created_at]
    column_searchable_list: ClassVar = [Company.name, Company.business_id]
    column_sortable_list: ClassVar = [Company.id, Company.name, Company.created_at]


class AssessmentTable(ReadOnly, model=Assessment):
    column_list: ClassVar = [
        Assessment.id,
        Assessment.company_id,
        Assessment.version,
        Assessment.status,
        Assessment.started_at,
        Assessment.completed_at,
        Assessment.overall,
        Assessment.level,
    ]
    column_details_exclude_list: ClassVar = [Assessment.result]
    column_sortable_list: ClassVar = [
        Assessment.id,
        Assessment.started_at,
        Assessment.overall,
        Assessment.level,
        Assessment.status,
    ]
    column_searchable_list: ClassVar = [Assessment.level, Assessment.status]
    column_filters: ClassVar = [
        AllUniqueStringValuesFilter(Assessment.status),
        AllUniqueStringValuesFilter(Assessment.level),
    ]


class LeadTable(ReadOnly, model=ContactRequest):
    name_plural = "Leads"
    column_list: ClassVar = [
        ContactRequest.id,
        ContactRequest.company_id,
        ContactRequest.assessment_id,
        ContactRequest.status,
        ContactRequest.owner_id,
        ContactRequest.created_at,
    ]
    column_sortable_list: ClassVar = [
        ContactRequest.id,
        ContactRequest.status,
        ContactRequest.created_at,
    ]
    column_searchable_list: ClassVar = [ContactRequest.status]
    column_filters: ClassVar = [AllUniqueStringValuesFilter(ContactRequest.status)]


class TicketTable(ReadOnly, model=Ticket):
    column_list: ClassVar = [
        Ticket.id,
        Ticket.locale,
        Ticket.topic,
        Ticket.status,
        Ticket.owner_id,
        Ticket.created_at,
        Ticket.answered_at,
    ]
    column_sortable_list: ClassVar = [Ticket.id, Ticket.status, Ticket.created_at]
    column_searchable_list: ClassVar = [Ticket.topic, Ticket.status, Ticket.question]
    column_filters: ClassVar = [
        AllUniqueStringValuesFilter(Ticket.status),
        AllUniqueStringValuesFilter(Ticket.locale),
    ]


class InterestTable(ReadOnly, model=PlacementInterest):
    column_list: ClassVar = [
        PlacementInterest.id,
        PlacementInterest.placement_id,
        PlacementInterest.status,
        PlacementInterest.created_at,
    ]
    column_sortable_list: ClassVar = [PlacementInterest.placement_id, PlacementInterest.created_at]
    column_searchable_list: ClassVar = [PlacementInterest.placement_id]
    column_filters: ClassVar = [AllUniqueStringValuesFilter(PlacementInterest.placement_id)]


class VoteTable(ReadOnly, model=PlacementVote):
    column_list: ClassVar = [PlacementVote.placement_id, PlacementVote.vote, PlacementVote.at]
    column_sortable_list: ClassVar = [PlacementVote.placement_id, PlacementVote.at]


class MissTable(ReadOnly, model=FaqMiss):
    name_plural = "FAQ gaps"
    column_list: ClassVar = [
        FaqMiss.id,
        FaqMiss.locale,
        FaqMiss.text,
        FaqMiss.best_id,
        FaqMiss.best_score,
        FaqMiss.created_at,
    ]
    column_sortable_list: ClassVar = [FaqMiss.id, FaqMiss.best_score, FaqMiss.created_at]
    column_searchable_list: ClassVar = [FaqMiss.text]
    column_filters: ClassVar = [AllUniqueStringValuesFilter(FaqMiss.locale)]


class AuditTable(ReadOnly, model=AuditEntry):
    name_plural = "Audit log"
    column_list: ClassVar = [
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor_id,
        AuditEntry.action,
        AuditEntry.subject,
    ]
    column_sortable_list: ClassVar = [AuditEntry.id, AuditEntry.at, AuditEntry.action]
    column_searchable_list: ClassVar = [AuditEntry.action, AuditEntry.subject]
    column_filters: ClassVar = [AllUniqueStringValuesFilter(AuditEntry.action)]


class Guarded:
    """SQLAdmin's app behind our guard: coordinators only, each page audited."""

    def __init__(self, bo: Backoffice, inner: Any) -> None:
        self.bo = bo
        self.inner = inner

    @property
    def routes(self) -> Any:
        """SQLAdmin's routes, so that `url_for("admin:…")` still finds them."""
        return self.inner.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        request = Request(scope, receive)
        path = scope.get("root_path", "") + scope.get("path", "")
        statics = "/statics/" in path
        async with self.bo.db.unit() as repo:
            viewer = await auth.viewer(request, repo, self.bo.settings.admin_ids)
            if viewer is not None and viewer.coordinator and not statics:
                repo.audit.log(
                    "view_table", subject=scope.get("path", "")[:64], actor_id=viewer.user_id
                )
        if viewer is None:
            await self.bo.sign_in_first(request)(scope, receive, send)
            return
        if not viewer.coordinator:
            t = self.bo.translator(request, viewer)
            response = self.bo.error(
                request, viewer, 403, t._("Your role does not give access to this page.")
            )
            await response(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD"):  # read-only: no forms to forge
            await self.bo.error(request, viewer, 405, "")(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def mount(bo: Backoffice, web: Starlette) -> None:
    admin = Admin(web, engine=bo.db.engine, base_url=BASE, title="KIERTO · tables")
    for view in (
        CompanyTable,
        AssessmentTable,
        LeadTable,
        TicketTable,
        InterestTable,
        VoteTable,
        MissTable,
        AuditTable,
    ):
        admin.add_view(view)
    for i, route in enumerate(web.router.routes):
        if isinstance(route, Mount) and route.path == BASE:
            web.router.routes[i] = Mount(BASE, app=Guarded(bo, route.app), name=route.name)
