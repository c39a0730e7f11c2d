"""Sign-in without passwords, sessions, roles and CSRF.

`/admin` in the bot issues a one-time token (stored hashed, valid 10 minutes). The link
shows a page with one button: the token is spent by that POST, not by the GET, so a link
preview fetching the URL does not use it up. A session cookie (HttpOnly, SameSite=Strict,
Secure under https) then names a session row, which ends after `SESSION_IDLE` without a
request. Roles are read from the store on every request, so a revoked role takes effect
at once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request

from dialogs.store.models import AdminSession, User
from dialogs.store.repo import Repository

COOKIE = "kierto_session"
SESSION_IDLE = timedelta(minutes=30)
STAFF_PATHS = ("/tickets", "/events", "/logout", "/lang")  # what staff may open; coordinators: all


@dataclass(frozen=True)
class Viewer:
    user_id: int
    roles: frozenset[str]
    csrf: str
    locale: str

    @property
    def coordinator(self) -> bool:
        return "coordinator" in self.roles

    def may_open(self, path: str) -> bool:
        if self.coordinator:
            return True
        return "staff" in self.roles and any(
            path == p or path.startswith(p + "/") for p in STAFF_PATHS
        )


def roles_of(user: User | None, admin_ids: frozenset[int]) -> frozenset[str]:
    if user is None:
        return frozenset()
    roles = {r for r in user.roles.split(",") if r in ("staff", "coordinator")}
    if user.id in admin_ids:
        roles |= {"staff", "coordinator"}
    if "coordinator" in roles:
        roles.add("staff")
    return frozenset(roles)


async def viewer(request: Request, repo: Repository, admin_ids: frozenset[int]) -> Viewer | None:
    """Who is asking, from the session cookie; None without a live session and a role."""
    token = request.cookies.get(COOKIE, "")
    session: AdminSession | None = await repo.sessions.get(token, SESSION_IDLE)
    if session is None:
        return None
    user = await repo.users.get(session.user_id)
    roles = roles_of(user, admin_ids)
    if not roles or user is None:
        await repo.sessions.end(token)
        return None
    return Viewer(user.id, roles, session.csrf, user.locale)


def csrf_ok(viewer: Viewer, submitted: object) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(viewer.csrf, submitted)


def cookie_args(secure: bool) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "path": "/",
        "max_age": int(SESSION_IDLE.total_seconds()) * 48,  # the server decides expiry
    }
