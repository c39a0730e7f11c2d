"""Exports for reporting: XLSX (one sheet per table and a codebook) and CSV (a zip of one
file per table), with the same filters as the back office's screens.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab
or a carriage return) as a formula, so every such text cell gets a leading apostrophe.
The anonymised export leaves out Telegram ids, company names and Y-tunnus, and free text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import xlsxwriter
from sqlalchemy import select

from dialogs import stats
from dialogs.store.models import FaqMiss, PlacementInterest, PlacementVote, Ticket
from dialogs.store.repo import Repository
from knowledge.loader import Knowledge

MAX_ROWS = 100_000  # per table; more than this is refused with a clear message
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportTooLarge(Exception):
    """A table has more rows than `MAX_ROWS`: narrow the filters."""


def safe(value: Any) -> Any:
    """A cell value that no spreadsheet program will run as a formula."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]


async def tables(
    repo: Repository, kb: Knowledge, filters: stats.Filters, anonymised: bool = False
) -> list[Table]:
    """The export's tables. Companies, assessments, answers and leads follow all the
    filters; the job seekers' and FAQ tables follow the date range."""
    found = await stats.rows(repo, filters)
    if len(found) > MAX_ROWS:
        raise ExportTooLarge("assessments")
    themes = [t.id for t in kb.questionnaire.themes]
    companies: dict[int, Any] = {}
    assessments: list[list[Any]] = []
    leads: list[list[Any]] = []
    for row in found:
        a, c = row.assessment, row.company
        if c.id is not None and c.id not in companies:
            companies[c.id] = (
                [c.id, c.created_at]
                if anonymised
                else [c.id, c.name, c.business_id, c.user_id, c.created_at]
            )
        scores = row.theme_scores()
        person = [] if anonymised else [a.user_id]
        assessments.append(
            [a.id, a.company_id, *person, a.version, a.status, a.started_at, a.completed_at]
            + [row.industry, row.size, a.overall, a.level]
            + [scores.get(t) for t in themes]
        )
        if row.contact is not None:
            owner = [] if anonymised else [row.contact.owner_id]
            leads.append(
                [
                    row.contact.id,
                    a.id,
                    a.company_id,
                    row.contact.status,
                    *owner,
                    row.contact.created_at,
                ]
            )
    answers = []
    for answer in await stats.answers_of(repo, [r.assessment.id for r in found]):
        if (
            anonymised
            and kb.questions.get(answer.question_id) is not None
            and (kb.questions[answer.question_id].type == "text")
        ):
            continue  # free text can name people or the company
        text = [] if anonymised else [answer.text]
        answers.append(
            [
                answer.assessment_id,
                answer.question_id,
                answer.version,
                answer.value,
                *text,
                answer.answered_at,
            ]
        )
    if len(answers) > MAX_ROWS:
        raise ExportTooLarge("answers")
    person = [] if anonymised else ["user_id"]
    out = [
        Table(
            "companies",
            ["company_id", "created_at"]
            if anonymised
            else ["company_id", "name", "business_id", "user_id", "created_at"],
            list(companies.values()),
        ),
        Table(
            "assessments",
            [
                "assessment_id",
                "company_id",
                *person,
                "version",
                "status",
                "started_at",
                "completed_at",
                "industry",
                "size",
                "overall",
                "level",
            ]
            + [f"theme_{t}" for t in themes],
            assessments,
        ),
        Table(
            "answers",
            [
                "assessment_id",
                "question_id",
                "version",
                "value",
                *([] if anonymised else ["text"]),
                "answered_at",
            ],
            answers,
        ),
        Table(
            "leads",
            [
                "lead_id",
                "assessment_id",
                "company_id",
                "status",
                *([] if anonymised else ["owner_id"]),
                "created_at",
            ],
            leads,
        ),
        *await _people_tables(repo, filters, anonymised),
    ]
    return out


async def _people_tables(repo: Repository, filters: stats.Filters, anonymised: bool) -> list[Table]:
    def dated(model: Any, column: Any) -> Any:
        stmt = select(model)
        if filters.date_from:
            stmt = stmt.where(column >= stats.day_start(filters.date_from))
        if filters.date_to:
            stmt = stmt.where(column < stats.day_start(filters.date_to + timedelta(days=1)))
        return stmt.limit(MAX_ROWS + 1)

    async def fetch(model: Any, column: Any) -> list[Any]:
        found = list((await repo.session.execute(dated(model, column))).scalars())
        if len(found) > MAX_ROWS:
            raise ExportTooLarge(model.__tablename__)
        return found

    person = [] if anonymised else ["user_id"]
    tickets = await fetch(Ticket, Ticket.created_at)
    interests = await fetch(PlacementInterest, PlacementInterest.created_at)
    votes = await fetch(PlacementVote, PlacementVote.at)
    misses = await fetch(FaqMiss, FaqMiss.created_at)
    return [
        Table(
            "tickets",
            [
                "ticket_id",
                *person,
                "locale",
                "topic",
                "status",
                *([] if anonymised else ["question", "owner_id"]),
                "created_at",
                "answered_at",
            ],
            [
                [
                    t.id,
                    *([] if anonymised else [t.user_id]),
                    t.locale,
                    t.topic,
                    t.status,
                    *([] if anonymised else [t.question, t.owner_id]),
                    t.created_at,
                    t.answered_at,
                ]
                for t in tickets
            ],
        ),
        Table(
            "placement_interests",
            ["interest_id", *person, "placement_id", "status", "created_at"],
            [
                [i.id, *([] if anonymised else [i.user_id]), i.placement_id, i.status, i.created_at]
                for i in interests
            ],
        ),
        Table(
            "placement_votes",
            [*person, "placement_id", "vote", "at"],
            [[*([] if anonymised else [v.user_id]), v.placement_id, v.vote, v.at] for v in votes],
        ),
        Table(
            "faq_gaps",
            [
                "miss_id",
                "locale",
                *([] if anonymised else ["text"]),
                "best_id",
                "best_score",
                "created_at",
            ],
            [
                [
                    m.id,
                    m.locale,
                    *([] if anonymised else [m.text]),
                    m.best_id,
                    m.best_score,
                    m.created_at,
                ]
                for m in misses
            ],
        ),
    ]


def codebook(kb: Knowledge) -> Table:
    """Question ids, their texts in every language, and the answer codes with labels."""
    rows: list[list[Any]] = []
    theme_of = {q.id: t.id for t in kb.questionnaire.themes for q in t.questions}
    for qid, question in kb.questions.items():
        rows.append(
            [
                qid,
                theme_of.get(qid, "profile"),
                question.type,
                "",
                question.text.fi,
                question.text.en,
                question.text.sv,
                None,
            ]
        )
        for option in kb.options.get(qid, ()):
            rows.append(
                [
                    qid,
                    "",
                    "",
                    option.id,
                    option.label.fi,
                    option.label.en,
                    option.label.sv,
                    option.score,
                ]
            )
    return Table(
        "codebook",
        ["question_id", "theme", "type", "answer_code", "fi", "en", "sv", "score"],
        rows,
    )


def to_xlsx(data: Sequence[Table]) -> bytes:
    buffer = io.BytesIO()
    # strings are written as strings: XlsxWriter would otherwise turn "=…" into a formula
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    for table in data:
        sheet = book.add_worksheet(table.name[:31])
        sheet.write_row(0, 0, table.columns, bold)
        for r, row in enumerate(table.rows, 1):
            for c, value in enumerate(row):
                value = safe(value)
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif value is None:
                    continue
                else:
                    sheet.write(r, c, value)
        sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else safe(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def to_csv_zip(data: Sequence[Table]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in data:
            archive.writestr(f"{table.name}.csv", to_csv(table))
    return buffer.getvalue()


async def export(
    repo: Repository,
    kb: Knowledge,
    fmt: str,
    filters: stats.Filters | None = None,
    anonymised: bool = False,
) -> bytes:
    """The whole export as bytes: `xlsx`, or `csv` (a zip of one CSV per table)."""
    data = [*await tables(repo, kb, filters or stats.Filters(), anonymised), codebook(kb)]
    if fmt == "xlsx":
        return to_xlsx(data)
    if fmt == "csv":
        return to_csv_zip(data)
    raise ValueError(f"unknown export format {fmt!r}")
