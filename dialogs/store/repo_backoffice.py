"""Store access for the back office: sign-in links, sessions, ticket conversations and the
outbox. Tokens are random and only their SHA-256 is stored, so a copy of the database
signs no one in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from dialogs.store.models import (
    AdminSession,
    LoginToken,
    TicketMessage,
    utcnow,
)
from dialogs.store.repo import _Table

LOGIN_VALID = timedelta(minutes=10)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Logins(_Table):
    async def issue(self, user_id: int) -> str:
        """A new one-time sign-in token for `user_id` (returned once, stored hashed)."""
        token = secrets.token_urlsafe(32)
        self.s.add(
            LoginToken(token_hash=digest(token), user_id=user_id, expires_at=utcnow() + LOGIN_VALID)
        )
        await self.s.flush()
        return token

    async def redeem(self, token: str) -> int | None:
        """The user id of a valid, unused, unexpired token, which is used up; else None.
        One UPDATE decides, so two browsers opening the same link cannot both win."""
        if not token or len(token) > 100:
            return None
        now = utcnow()
        result = await self.s.execute(
            update(LoginToken)
            .where(
                LoginToken.token_hash == digest(token),
                LoginToken.used_at.is_(None),
                LoginToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(LoginToken.user_id)
        )
        return result.scalar_one_or_none()

    async def prune(self, before: datetime) -> int:
        result = await self.s.execute(delete(LoginToken).where(LoginToken.expires_at < before))
        return result.rowcount or 0


class Sessions(_Table):
    async def start(self, user_id: int) -> tuple[str, AdminSession]:
        token = secrets.token_urlsafe(32)
        session = AdminSession(
            id_hash=digest(token), user_id=user_id, csrf=secrets.token_urlsafe(24)
        )
        self.s.add(session)
        await self.s.flush()
        return token, session

    async def get(self, token: str, idle: timedelta) -> AdminSession | None:
        """The live session behind a cookie value, its inactivity clock reset; an expired
        one is deleted."""
        if not token or len(token) > 100:
            return None
        session = await self.s.get(AdminSession, digest(token))
        if session is None:
            return None
        now = utcnow()
        if now - session.last_seen_at > idle:
            await self.s.delete(session)
            return None
        if now - session.last_seen_at > timedelta(seconds=30):  # not a write every request
            session.last_seen_at = now
        return session

    async def end(self, token: str) -> None:
        await self.s.execute(delete(AdminSession).where(AdminSession.id_hash == digest(token)))

    async def prune(self, before: datetime) -> int:
        result = await self.s.execute(
            delete(AdminSession).where(AdminSession.last_seen_at < before)
        )
        return result.rowcount or 0


class TicketMessages(_Table):
    def add(self, ticket_id: int, author: str, text: str, staff_id: int | None = None) -> None:
        self.s.add(TicketMessage(ticket_id=ticket_id, author=author, text=text, staff_id=staff_id))

    async def of(self, ticket_id: int) -> list[TicketMessage]:
        rows = await self.s.execute(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id)
            .order_by(TicketMessage.id)
        )
        return list(rows.scalars())
