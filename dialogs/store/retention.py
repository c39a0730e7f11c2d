"""Retention: data older than RETENTION_DAYS is removed (bot/scheduler.py runs this daily).

- a person not seen for the whole period is erased as by /forget (staff excepted);
- older kartoitus (with their answers and leads), tickets (with their conversation), FAQ
  misses, placement interests and votes are removed, and companies left with nothing;
- the audit log and the outbox lose their older entries too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from dialogs.store.models import (
    Answer,
    Assessment,
    AuditEntry,
    Company,
    ContactRequest,
    FaqMiss,
    OutboxMessage,
    PlacementInterest,
    PlacementVote,
    Ticket,
    TicketMessage,
    User,
)
from dialogs.store.repo import Repository


async def purge(repo: Repository, before: datetime) -> dict[str, int]:
    s = repo.session
    counts: dict[str, int] = {}
    idle = (
        await s.execute(select(User.id).where(User.last_seen_at < before, User.roles == ""))
    ).scalars()
    idle_ids = list(idle)
    for user_id in idle_ids:
        await repo.forget(user_id)
    counts["users"] = len(idle_ids)
    old = select(Assessment.id).where(Assessment.started_at < before)
    old_tickets = select(Ticket.id).where(Ticket.created_at < before)
    steps = [
        ("answers", delete(Answer).where(Answer.assessment_id.in_(old))),
        ("leads", delete(ContactRequest).where(ContactRequest.assessment_id.in_(old))),
        ("assessments", delete(Assessment).where(Assessment.started_at < before)),
        (
            "companies",
            delete(Company).where(
                Company.created_at < before,
                ~Company.id.in_(select(Assessment.company_id)),
            ),
        ),
        ("ticket_messages", delete(TicketMessage).where(TicketMessage.ticket_id.in_(old_tickets))),
        ("tickets", delete(Ticket).where(Ticket.created_at < before)),
        ("faq_misses", delete(FaqMiss).where(FaqMiss.created_at < before)),
        ("interests", delete(PlacementInterest).where(PlacementInterest.created_at < before)),
        ("votes", delete(PlacementVote).where(PlacementVote.at < before)),
        ("outbox", delete(OutboxMessage).where(OutboxMessage.created_at < before)),
        ("audit", delete(AuditEntry).where(AuditEntry.at < before)),
    ]
    for name, stmt in steps:
        counts[name] = (await s.execute(stmt)).rowcount or 0
    await repo.logins.prune(before)
    return counts
