"""The staff's side of tickets and leads outside a chat update: a reply written in the back
office, status and owner changes.

A reply is stored in the ticket's conversation and put in the outbox in the same unit of
work; the process that talks to Telegram sends it (the door's outbox sender). The message
the person gets is the same as for a reply in the staff chat (dialogs.handoff.relay).
"""

from __future__ import annotations

from dialogs.actions import Send
from dialogs.store.models import Ticket, utcnow
from dialogs.store.outbox import encode
from dialogs.store.repo import Repository
from dialogs.ui import esc
from knowledge.loader import Knowledge
from locales.i18n import I18n, Translator

TICKET_STATUSES = ("open", "in_progress", "answered", "closed")
LEAD_STATUSES = ("new", "in_progress", "contacted", "closed")
REPLY_MAX = 4000


def answer_text(their: Translator, ticket: Ticket, answer: str, operator: str) -> str:
    """The message a person gets with a staff member's answer, in their language
    (`operator`: the operator profile's name in that language)."""
    return "\n".join(
        [
            their._(
                "💬 <b>Answer from {operator}</b> to your question #{id}:",
                id=ticket.id,
                operator=esc(operator),
            ),
            "",
            esc(answer),
            "",
            their._("To ask more, use /human."),
        ]
    )


async def reply(
    repo: Repository, i18n: I18n, kb: Knowledge, ticket_id: int, staff_id: int, answer: str
) -> Ticket | None:
    """Store a staff reply and queue it to the person; None when the ticket or the person
    is gone (erased)."""
    ticket = await repo.tickets.get(ticket_id)
    answer = answer.strip()[:REPLY_MAX]
    if ticket is None or not answer or await repo.users.get(ticket.user_id) is None:
        return None
    text = answer_text(i18n(ticket.locale), ticket, answer, kb.operator.name.get(ticket.locale))
    await repo.outbox.add(
        ticket.user_id, encode(Send(ticket.user_id, text)), kind="notice", user_id=ticket.user_id
    )
    assert ticket.id is not None
    repo.ticket_messages.add(ticket.id, "staff", answer, staff_id)
    ticket.status = "answered"
    ticket.answered_at = utcnow()
    if ticket.owner_id is None:
        ticket.owner_id = staff_id
    kind, _, key = ticket.topic.partition(":")  # a lead is answered through its ticket
    if kind == "contact" and key.isdigit():
        await repo.contacts.mark(int(key), "contacted")
    elif kind == "placement":
        await repo.interests.mark(ticket.user_id, key, "contacted")
    return ticket
