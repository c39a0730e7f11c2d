"""SQL tables (SQLModel). Schema changes go through Alembic (dialogs/store/migrations).

Personal data is kept to what the job needs: the Telegram user id (never the phone number
or the name), the chosen language, and what the person tells the bot on purpose. Every row
that belongs to a person carries `user_id`, so /mydata and /forget can find it all.
Times are timezone-aware, stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


# BIGINT on PostgreSQL; INTEGER on SQLite, where only that is the autoincrementing rowid
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _user_fk(**kw: Any) -> Any:
    return Field(sa_type=BigInteger, index=True, **kw)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int = Field(sa_type=BigInteger, primary_key=True)  # Telegram user id
    locale: str = Field(default="fi", max_length=5)
    locale_chosen: bool = False  # chosen in /settings; otherwise follows Telegram's language
    roles: str = Field(default="", max_length=64)  # comma-separated: staff, coordinator
    role: str | None = Field(default=None, max_length=16)  # company | jobseeker | visitor
    invitations: bool = False  # opted in to haastepaja invitations
    blocked: bool = False  # the user blocked the bot: send nothing more
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)

    def has_role(self, role: str) -> bool:
        return role in self.roles.split(",")


class DialogState(SQLModel, table=True):
    """Where a user is: the flow, the step within it, and the flow's small scratch data."""

    __tablename__ = "dialog_states"

    user_id: int = Field(sa_type=BigInteger, primary_key=True)
    flow: str | None = Field(default=None, max_length=32)
    step: str = Field(default="", max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    """Telegram update ids already handled: a redelivered update changes nothing."""

    __tablename__ = "processed_updates"

    update_id: int = Field(sa_type=BigInteger, primary_key=True)
    processed_at: datetime = Field(default_factory=utcnow, index=True)


class AuditEntry(SQLModel, table=True):
    """Who did what to whose data: exports, erasures, role changes. Never answer text."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, sa_type=BigInteger)
    action: str = Field(max_length=32)
    subject: str = Field(default="", max_length=64)
    # which person's data was touched (a company's owner), so /forget can find the entry
    about_user_id: int | None = Field(default=None, sa_type=BigInteger, index=True)


class Company(SQLModel, table=True):
    __tablename__ = "companies"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()  # who registered it in the bot
    name: str = Field(max_length=200)
    business_id: str | None = Field(default=None, max_length=9)  # Y-tunnus, 1234567-8
    created_at: datetime = Field(default_factory=utcnow)


class Assessment(SQLModel, table=True):
    """One KIERTO-kartoitus of one company; `result` is filled in when it is completed."""

    __tablename__ = "assessments"

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    user_id: int = _user_fk()
    version: str = Field(max_length=32)  # questionnaire version
    status: str = Field(default="open", max_length=16)  # open | done | dropped
    position: str | None = Field(default=None, max_length=20)  # where it was left, to resume
    started_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    overall: float | None = None
    level: str | None = Field(default=None, max_length=20)
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Answer(SQLModel, table=True):
    """One answer, written the moment it is given. `value` is an option id or a list of them."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("assessment_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessments.id", index=True)
    question_id: str = Field(max_length=20)
    version: str = Field(max_length=32)
    value: Any = Field(default=None, sa_column=Column(JSON))
    text: str | None = Field(default=None, max_length=4000)
    answered_at: datetime = Field(default_factory=utcnow)


class ContactRequest(SQLModel, table=True):
    """A company asked an adviser to contact it (after agreeing to share its results)."""

    __tablename__ = "contact_requests"
    __table_args__ = (UniqueConstraint("assessment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()
    company_id: int = Field(foreign_key="companies.id")
    assessment_id: int = Field(foreign_key="assessments.id")
    status: str = Field(default="new", max_length=16)  # new | in_progress | contacted | closed
    owner_id: int | None = Field(default=None, sa_type=BigInteger)  # staff member handling it
    created_at: datetime = Field(default_factory=utcnow)


class PlacementInterest(SQLModel, table=True):
    """A job seeker wants to hear about a placement; saved only after consent."""

    __tablename__ = "placement_interests"
    __table_args__ = (UniqueConstraint("user_id", "placement_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()
    placement_id: str = Field(max_length=20)
    prefs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="new", max_length=16)  # new | contacted | closed
    created_at: datetime = Field(default_factory=utcnow)


class PlacementVote(SQLModel, table=True):
    """Thumbs up (+1) or down (-1) on a suggested placement, to improve matching."""

    __tablename__ = "placement_votes"

    user_id: int = Field(sa_type=BigInteger, primary_key=True)
    placement_id: str = Field(max_length=20, primary_key=True)
    vote: int
    at: datetime = Field(default_factory=utcnow)


class FaqMiss(SQLModel, table=True):
    """A question the bot could not answer, kept so coordinators can grow the FAQ."""

    __tablename__ = "faq_misses"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    locale: str = Field(max_length=5)
    text: str = Field(max_length=4096)
    best_id: str | None = Field(default=None, max_length=20)
    best_score: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class Ticket(SQLModel, table=True):
    """A question handed to a person: open until staff replies through the bot."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _user_fk()
    locale: str = Field(max_length=5)
    topic: str = Field(default="", max_length=32)  # where the user was: faq, placement:<id>…
    question: str = Field(max_length=4096)
    status: str = Field(default="open", max_length=16)  # open | in_progress | answered | closed
    owner_id: int | None = Field(default=None, sa_type=BigInteger)  # staff member handling it
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None


class TicketMessage(SQLModel, table=True):
    """A later message in a ticket's conversation (the first is `Ticket.question`)."""

    __tablename__ = "ticket_messages"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    author: str = Field(max_length=8)  # staff | user
    staff_id: int | None = Field(default=None, sa_type=BigInteger)
    text: str = Field(max_length=4096)
    at: datetime = Field(default_factory=utcnow)


class LoginToken(SQLModel, table=True):
    """A one-time back office sign-in link; only the SHA-256 of the token is stored."""

    __tablename__ = "login_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = _user_fk()
    expires_at: datetime
    used_at: datetime | None = None


class AdminSession(SQLModel, table=True):
    """A signed-in back office browser; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "admin_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = _user_fk()
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """One message to send to Telegram (see `dialogs.store.outbox` for the life of a row).

    Written in the same transaction as the writes that produced it, so a committed update's
    replies survive the process; drained by the sender, interactive replies first."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id", name="uq_outbox_broadcast_user"),
        Index("ix_outbox_due", "status", "priority", "due_at"),
        Index("ix_outbox_chat", "chat_id", "id"),
    )

    id: int | None = Field(default=None, sa_type=_BIG_ID, primary_key=True)
    kind: str = Field(default="reply", max_length=16)  # reply | notice | broadcast
    priority: int = 0  # lower first: replies 0, notices 1, broadcasts 2
    chat_id: int = Field(sa_type=BigInteger)
    # whom the message is for or about (the recipient of a broadcast, the person a staff-chat
    # ticket post is about): /forget finds their rows by it
    user_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    broadcast_id: int | None = Field(default=None, sa_type=BigInteger)
    action: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=200)
    due_at: datetime = Field(default_factory=utcnow)
    sent_message_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReplicaSeen(SQLModel, table=True):
    """A running bot process and what it runs (see bot/replicas.py): a new process compares
    itself with the ones seen in the last seconds and refuses to start beside a different
    knowledge base, schema or webhook. No personal data."""

    __tablename__ = "replica"

    name: str = Field(primary_key=True, max_length=96)  # host-pid
    role: str = Field(max_length=16)  # poll | webhook
    knowledge: str = Field(max_length=64)  # hash of the knowledge files
    schema_head: str = Field(max_length=64)  # the code's Alembic head
    webhook: str = Field(default="", max_length=64)  # hash of WEBHOOK_URL + WEBHOOK_SECRET
    started_at: datetime = Field(default_factory=utcnow)
    seen_at: datetime = Field(default_factory=utcnow)
