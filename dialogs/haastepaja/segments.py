"""Audiences: who receives an invitation.

Only people who opted in to invitations (/settings) are ever in an audience, and never
someone who blocked the bot or asked to be forgotten (their row is gone). Within them a
`Segment` narrows by group and details staff can combine:

    who        all | companies | jobseekers
    companies  industry, size (kartoitus profile), maturity level, a weak theme
               (that theme's score below a bound, e.g. waste < 40) — from the latest
               completed kartoitus
    jobseekers interest tags chosen in the placement finder
    language   the person's language

`matches` is pure and works on `Profile`s; `load_profiles` reads them from the store in a
few queries, whatever the number of people.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from dialogs.store.models import Answer, Assessment, Company, PlacementInterest, User
from dialogs.store.repo import Repository

WHO = ("all", "companies", "jobseekers")


@dataclass(frozen=True)
class Segment:
    who: str = "all"
    industries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    weak_theme: str | None = None
    weak_below: int = 40
    tags: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Segment:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names}
        return cls(**values)


@dataclass(frozen=True)
class Profile:
    """What an audience may be chosen by, for one person."""

    user_id: int
    locale: str
    invitations: bool = True
    blocked: bool = False
    company: bool = False
    industry: str | None = None
    size: str | None = None
    level: str | None = None
    themes: dict[str, float | None] = field(default_factory=dict)
    jobseeker: bool = False
    tags: frozenset[str] = frozenset()


def matches(segment: Segment, p: Profile) -> bool:
    if not p.invitations or p.blocked:
        return False
    if segment.langs and p.locale not in segment.langs:
        return False
    if segment.who == "companies":
        if not p.company:
            return False
        if segment.industries and p.industry not in segment.industries:
            return False
        if segment.sizes and p.size not in segment.sizes:
            return False
        if segment.levels and p.level not in segment.levels:
            return False
        if segment.weak_theme is not None:
            score = p.themes.get(segment.weak_theme)
            if score is None or score >= segment.weak_below:
                return False
    elif segment.who == "jobseekers":
        if not p.jobseeker:
            return False
        if segment.tags and not p.tags & set(segment.tags):
            return False
    return True


def audience(segment: Segment, profiles: list[Profile]) -> list[Profile]:
    return [p for p in profiles if matches(segment, p)]


async def load_profiles(repo: Repository) -> list[Profile]:
    """Profiles of everyone who may receive invitations (opted in, not blocked)."""
    s = repo.session
    users = list(
        (
            await s.execute(select(User).where(User.invitations.is_(True), User.blocked.is_(False)))
        ).scalars()
    )
    ids = [u.id for u in users]
    if not ids:
        return []
    companies = {
        c.user_id
        for c in (await s.execute(select(Company).where(Company.user_id.in_(ids)))).scalars()
    }
    latest: dict[int, Assessment] = {}
    query = (
        select(Assessment)
        .where(Assessment.user_id.in_(ids), Assessment.status == "done")
        .order_by(Assessment.id)
    )
    for a in (await s.execute(query)).scalars():
        latest[a.user_id] = a  # ordered by id: the last one wins
    profile_answers: dict[int, dict[str, Any]] = {}
    if latest:
        by_assessment = {a.id: uid for uid, a in latest.items()}
        query = select(Answer).where(
            Answer.assessment_id.in_(list(by_assessment)),
            Answer.question_id.in_(("industry", "size")),
        )
        for ans in (await s.execute(query)).scalars():
            uid = by_assessment[ans.assessment_id]
            profile_answers.setdefault(uid, {})[ans.question_id] = ans.value
    tags: dict[int, set[str]] = {}
    query = select(PlacementInterest).where(PlacementInterest.user_id.in_(ids))
    for interest in (await s.execute(query)).scalars():
        tags.setdefault(interest.user_id, set()).update(interest.prefs.get("int") or [])
    out = []
    for u in users:
        a = latest.get(u.id)
        answers = profile_answers.get(u.id, {})
        out.append(
            Profile(
                user_id=u.id,
                locale=u.locale,
                invitations=u.invitations,
                blocked=u.blocked,
                company=u.role == "company" or u.id in companies or a is not None,
                industry=_one(answers.get("industry")),
                size=_one(answers.get("size")),
                level=a.level if a else None,
                themes=dict((a.result or {}).get("themes", {})) if a else {},
                jobseeker=u.role == "jobseeker" or u.id in tags,
                tags=frozenset(tags.get(u.id, ())),
            )
        )
    return out


def _one(value: Any) -> str | None:
    return value if isinstance(value, str) else None
