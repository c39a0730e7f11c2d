"""Figures over the collected kartoitus answers, for the back office, the exports and /stats.

Everything here reads the store and returns plain data; nothing knows about the web or
Telegram. The row sets are small (hundreds of assessments), so filters that need the
answers (industry, size, score band) are applied in Python over one query per table.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from dialogs.store.models import (
    Answer,
    Assessment,
    Company,
    ContactRequest,
    FaqMiss,
    PlacementInterest,
    PlacementVote,
)
from dialogs.store.repo import Repository
from knowledge.loader import Knowledge

PEER_MINIMUM = 10  # fewer finished companies in a group than this: no comparison at all
STATUSES = ("finished", "unfinished")


@dataclass(frozen=True)
class Filters:
    """The filters of the companies list, the per-question statistics and the exports."""

    date_from: date | None = None
    date_to: date | None = None
    industry: str | None = None
    size: str | None = None
    level: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    contact: bool | None = None  # contact requested
    status: str | None = None  # finished | unfinished
    q: str = ""  # search in the company name and Y-tunnus

    @classmethod
    def parse(cls, params: Mapping[str, str], kb: Knowledge) -> tuple[Filters, list[str]]:
        """Filters from query parameters; a value that is not valid is left out and its
        name returned, so the page can say which one was ignored."""
        bad: list[str] = []
        values: dict[str, Any] = {}

        def text(name: str) -> str:
            return str(params.get(name, "") or "").strip()[:100]

        for name in ("date_from", "date_to"):
            raw = text(name)
            if raw:
                try:
                    values[name] = date.fromisoformat(raw)
                except ValueError:
                    bad.append(name)
        for name in ("score_min", "score_max"):
            raw = text(name).replace(",", ".")
            if raw:
                try:
                    number = float(raw)
                except ValueError:
                    number = -1.0
                if 0 <= number <= 100:
                    values[name] = number
                else:
                    bad.append(name)
        for name, allowed in (
            ("industry", {o.id for o in kb.options.get("industry", ())}),
            ("size", {o.id for o in kb.options.get("size", ())}),
            ("level", {lv.id for lv in kb.questionnaire.levels}),
            ("status", set(STATUSES)),
        ):
            raw = text(name)
            if raw:
                if raw in allowed:
                    values[name] = raw
                else:
                    bad.append(name)
        raw = text("contact")
        if raw:
            if raw in ("yes", "no"):
                values["contact"] = raw == "yes"
            else:
                bad.append("contact")
        values["q"] = text("q")
        return cls(**values), bad

    def query(self) -> dict[str, str]:
        """The filters back as query parameters (for links and the export buttons)."""
        out: dict[str, str] = {}
        for name in (
            "date_from",
            "date_to",
            "industry",
            "size",
            "level",
            "score_min",
            "score_max",
            "status",
            "q",
        ):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        if self.contact is not None:
            out["contact"] = "yes" if self.contact else "no"
        return out

    def since_days(self, days: int) -> Filters:
        today = datetime.now(UTC).date()
        return replace(self, date_from=today - timedelta(days=days - 1))


@dataclass
class Row:
    """One assessment with its company and the profile answers the filters use."""

    assessment: Assessment
    company: Company
    industry: str | None
    size: str | None
    contact: ContactRequest | None

    @property
    def finished(self) -> bool:
        return self.assessment.status == "done"

    def theme_scores(self) -> dict[str, float | None]:
        return dict((self.assessment.result or {}).get("themes", {}))


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def rows(repo: Repository, filters: Filters = Filters()) -> list[Row]:
    """The assessments that pass the filters, newest first."""
    stmt = select(Assessment, Company).join(Company, Company.id == Assessment.company_id)
    if filters.date_from:
        stmt = stmt.where(Assessment.started_at >= day_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Assessment.started_at < day_start(filters.date_to + timedelta(days=1)))
    if filters.status == "finished":
        stmt = stmt.where(Assessment.status == "done")
    elif filters.status == "unfinished":
        stmt = stmt.where(Assessment.status != "done")
    if filters.level:
        stmt = stmt.where(Assessment.level == filters.level)
    if filters.score_min is not None:
        stmt = stmt.where(Assessment.overall >= filters.score_min)
    if filters.score_max is not None:
        stmt = stmt.where(Assessment.overall <= filters.score_max)
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        stmt = stmt.where(
            Company.name.ilike(pattern) | Company.business_id.ilike(pattern)  # type: ignore[union-attr]
        )
    found = (await repo.session.execute(stmt.order_by(Assessment.id.desc()))).all()
    ids = [a.id for a, _ in found]
    profile = await _profile(repo, ids)
    contacts = {
        c.assessment_id: c
        for c in (
            await repo.session.execute(
                select(ContactRequest).where(ContactRequest.assessment_id.in_(ids))
            )
        ).scalars()
    }
    out = []
    for assessment, company in found:
        answers = profile.get(assessment.id, {})
        row = Row(
            assessment,
            company,
            answers.get("industry"),
            answers.get("size"),
            contacts.get(assessment.id),
        )
        if filters.industry and row.industry != filters.industry:
            continue
        if filters.size and row.size != filters.size:
            continue
        if filters.contact is not None and (row.contact is not None) != filters.contact:
            continue
        out.append(row)
    return out


async def _profile(repo: Repository, ids: list[int | None]) -> dict[int, dict[str, Any]]:
    stmt = select(Answer.assessment_id, Answer.question_id, Answer.value).where(
        Answer.assessment_id.in_(ids), Answer.question_id.in_(("industry", "size"))
    )
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    for assessment_id, qid, value in (await repo.session.execute(stmt)).all():
        out[assessment_id][qid] = value
    return out


async def answers_of(repo: Repository, ids: Iterable[int | None]) -> list[Answer]:
    stmt = select(Answer).where(Answer.assessment_id.in_(list(ids))).order_by(Answer.id)
    return list((await repo.session.execute(stmt)).scalars())


# ---------------------------------------------------------------------- dashboard


@dataclass
class Quartiles:
    n: int
    q1: float
    median: float
    q3: float


@dataclass
class Dashboard:
    per_week: list[tuple[str, int, int]] = field(default_factory=list)  # week, started, done
    started: int = 0
    finished: int = 0
    dropped_at: list[tuple[str, int]] = field(default_factory=list)  # question id, count
    levels: list[tuple[str, int]] = field(default_factory=list)
    themes: dict[str, float | None] = field(default_factory=dict)
    by_industry: dict[str, dict[str, float | None]] = field(default_factory=dict)
    by_size: dict[str, dict[str, float | None]] = field(default_factory=dict)
    red_flags: list[tuple[str, int]] = field(default_factory=list)
    dont_know: list[tuple[str, int]] = field(default_factory=list)
    interests: list[tuple[str, int]] = field(default_factory=list)
    votes: list[tuple[str, int, int]] = field(default_factory=list)  # placement, up, down
    faq_gaps: list[tuple[str, int]] = field(default_factory=list)
    peers_industry: dict[str, dict[str, Quartiles]] = field(default_factory=dict)
    peers_size: dict[str, dict[str, Quartiles]] = field(default_factory=dict)

    @property
    def completion(self) -> float:
        return self.finished / self.started if self.started else 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def theme_averages(kb: Knowledge, found: list[Row]) -> dict[str, float | None]:
    collected: dict[str, list[float]] = defaultdict(list)
    for row in found:
        for theme_id, value in row.theme_scores().items():
            if value is not None:
                collected[theme_id].append(value)
    return {t.id: _mean(collected[t.id]) for t in kb.questionnaire.themes}


def quartiles(values: list[float]) -> Quartiles | None:
    """Median and quartiles of a group, or None below `PEER_MINIMUM` values."""
    if len(values) < PEER_MINIMUM:
        return None
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Quartiles(len(values), q1, median, q3)


def peer_groups(kb: Knowledge, found: list[Row], key: str) -> dict[str, dict[str, Quartiles]]:
    """Per group (an industry or a size class) with enough finished companies: theme ->
    quartiles. Each company counts once, with its latest finished kartoitus."""
    latest: dict[int, Row] = {}
    for row in found:  # newest first, so the first seen is the latest
        if row.finished and row.company.id is not None and row.company.id not in latest:
            latest[row.company.id] = row
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in latest.values():
        group = getattr(row, key)
        if group:
            groups[group].append(row)
    out: dict[str, dict[str, Quartiles]] = {}
    for group, members in groups.items():
        per_theme = {}
        for theme in kb.questionnaire.themes:
            values = [v for r in members if (v := r.theme_scores().get(theme.id)) is not None]
            q = quartiles(values)
            if q is not None:
                per_theme[theme.id] = q
        if per_theme:
            out[group] = per_theme
    return out


async def peers_for(
    repo: Repository, kb: Knowledge, industry: str | None, size: str | None
) -> tuple[str, str, dict[str, Quartiles]] | None:
    """The comparison a company's results show: its trade if that group is big enough,
    else its size class; ("industry"|"size", group id, theme -> quartiles) or None."""
    found = await rows(repo, Filters(status="finished"))
    for key, group in (("industry", industry), ("size", size)):
        if group:
            table = peer_groups(kb, found, key).get(group)
            if table:
                return key, group, table
    return None


def _top(counter: Counter[str], n: int = 10) -> list[tuple[str, int]]:
    return counter.most_common(n)


async def dashboard(repo: Repository, kb: Knowledge, filters: Filters = Filters()) -> Dashboard:
    found = await rows(repo, filters)
    done = [r for r in found if r.finished]
    out = Dashboard(started=len(found), finished=len(done))
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in found:
        year, week, _ = row.assessment.started_at.isocalendar()
        weeks[f"{year}-W{week:02d}"][0] += 1
        if row.finished:
            weeks[f"{year}-W{week:02d}"][1] += 1
    out.per_week = [(w, s, d) for w, (s, d) in sorted(weeks.items())]
    out.dropped_at = _top(Counter(r.assessment.position or "?" for r in found if not r.finished), 8)
    levels = Counter(r.assessment.level for r in done if r.assessment.level)
    out.levels = [(lv.id, levels.get(lv.id, 0)) for lv in kb.questionnaire.levels]
    out.themes = theme_averages(kb, done)
    for key, target in (("industry", out.by_industry), ("size", out.by_size)):
        groups: dict[str, list[Row]] = defaultdict(list)
        for row in done:
            groups[getattr(row, key) or "?"].append(row)
        order = [o.id for o in kb.options.get(key, ())]  # as the question lists them
        for group in sorted(groups, key=lambda g: order.index(g) if g in order else len(order)):
            target[group] = theme_averages(kb, groups[group])
    out.red_flags = _top(
        Counter(q for r in done for q in (r.assessment.result or {}).get("red_flags", []))
    )
    dk = Counter[str]()
    for answer in await answers_of(repo, [r.assessment.id for r in found]):
        option = (
            kb.option(answer.question_id, answer.value) if isinstance(answer.value, str) else None
        )
        if option is not None and option.dk:
            dk[answer.question_id] += 1
    out.dont_know = _top(dk)
    out.peers_industry = peer_groups(kb, found, "industry")
    out.peers_size = peer_groups(kb, found, "size")
    await jobseekers(repo, out, filters)
    return out


async def jobseekers(repo: Repository, out: Dashboard, filters: Filters) -> None:
    def dated(stmt: Any, column: Any) -> Any:
        if filters.date_from:
            stmt = stmt.where(column >= day_start(filters.date_from))
        if filters.date_to:
            stmt = stmt.where(column < day_start(filters.date_to + timedelta(days=1)))
        return stmt

    interests = await repo.session.execute(
        dated(select(PlacementInterest.placement_id), PlacementInterest.created_at)
    )
    out.interests = _top(Counter(pid for (pid,) in interests.all()), 20)
    votes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pid, vote in (
        await repo.session.execute(
            dated(select(PlacementVote.placement_id, PlacementVote.vote), PlacementVote.at)
        )
    ).all():
        votes[pid][0 if vote > 0 else 1] += 1
    out.votes = sorted(((p, u, d) for p, (u, d) in votes.items()), key=lambda v: -(v[1] + v[2]))
    misses = await repo.session.execute(dated(select(FaqMiss.text), FaqMiss.created_at))
    out.faq_gaps = _top(Counter(" ".join(t.lower().split())[:200] for (t,) in misses.all()), 20)


# ---------------------------------------------------------------------- per question


def question_stats(
    kb: Knowledge, answers: list[Answer], lang: str
) -> list[tuple[str, str, int, list[tuple[str, str, int]]]]:
    """Per question: (id, text, how many answered, [(option id, label, count)])."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    answered: Counter[str] = Counter()
    for answer in answers:
        answered[answer.question_id] += 1
        values = answer.value if isinstance(answer.value, list) else [answer.value]
        for value in values:
            if isinstance(value, str):
                counts[answer.question_id][value] += 1
    out = []
    for qid, question in kb.questions.items():
        if question.type == "text":
            continue
        options = [
            (o.id, o.label.get(lang), counts[qid].get(o.id, 0)) for o in kb.options.get(qid, ())
        ]
        out.append((qid, question.text.get(lang), answered.get(qid, 0), options))
    return out
