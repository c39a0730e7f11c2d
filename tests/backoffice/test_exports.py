"""Exports: XLSX sheets and codebook, CSV, formula escaping, the anonymised variant, the
command line, and the audit log."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openpyxl
import pytest

from bot.app import App
from bot.cli import main
from bot.config import Settings
from dialogs import stats
from dialogs.render import exports
from tests.backoffice.conftest import COORDINATOR
from tests.backoffice.seed import seed

SHEETS = [
    "companies",
    "assessments",
    "answers",
    "leads",
    "tickets",
    "placement_interests",
    "placement_votes",
    "faq_gaps",
    "codebook",
]
EVIL = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+358", "'+358"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Oy Ab", "Oy Ab"),
        (-2, -2),
        (None, None),
    ],
)
def test_formula_escaping(value: object, expected: object) -> None:
    assert exports.safe(value) == expected


def _sheet(book: openpyxl.Workbook, name: str) -> list[dict[str, object]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_xlsx_has_every_table_a_codebook_and_no_formulas(app: App) -> None:
    await seed(app.db, app.kb, first_name=EVIL)
    async with app.db.unit() as repo:
        data = await exports.export(repo, app.kb, "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == SHEETS
    names = [row["name"] for row in _sheet(book, "companies")]
    assert "'" + EVIL in names and EVIL not in names
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)
    codebook = _sheet(book, "codebook")
    ma1 = [r for r in codebook if r["question_id"] == "ma1"]
    assert ma1[0]["fi"] == app.kb.questions["ma1"].text.fi
    assert ma1[0]["sv"] == app.kb.questions["ma1"].text.sv
    assert {r["answer_code"] for r in ma1[1:]} == {o.id for o in app.kb.options["ma1"]}
    assessments = _sheet(book, "assessments")
    assert len(assessments) == 14  # 12 companies, one retake, one unfinished
    assert {"theme_materials", "industry", "size", "overall"} <= set(assessments[0])


async def test_csv_zip_same_tables(app: App) -> None:
    await seed(app.db, app.kb, first_name=EVIL)
    async with app.db.unit() as repo:
        data = await exports.export(repo, app.kb, "csv")
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == sorted(f"{n}.csv" for n in SHEETS)
    text = archive.read("companies.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "'" + EVIL in [r["name"] for r in rows]


async def test_anonymised_export_leaves_out_people_and_names(app: App) -> None:
    await seed(app.db, app.kb, first_name=EVIL)
    async with app.db.unit() as repo:
        data = await exports.export(repo, app.kb, "xlsx", anonymised=True)
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [
        str(c)
        for ws in book
        if ws.title != "codebook"
        for row in ws.iter_rows(values_only=True)
        for c in row
        if c is not None
    ]
    headers = {str(c) for ws in book for c in next(ws.iter_rows(values_only=True))}
    assert not {"user_id", "name", "business_id", "text", "question"} & headers
    assert not any("Pirkan" in c or "cmd" in c or "1234561-1" in c for c in cells)
    assert not any("pakkauksista" in c for c in cells)  # the free-text note
    assert not any(c.isdigit() and 1000 <= int(c) < 1100 for c in cells)  # Telegram ids


async def test_filters_apply_to_the_export(app: App) -> None:
    await seed(app.db, app.kb)
    filters, bad = stats.Filters.parse({"q": "pirkan"}, app.kb)
    assert not bad
    async with app.db.unit() as repo:
        tables = {t.name: t for t in await exports.tables(repo, app.kb, filters)}
    assert [r[1] for r in tables["companies"].rows] == ["Pirkan Puu Oy"]
    assert {r[0] for r in tables["answers"].rows} == {r[0] for r in tables["assessments"].rows}


async def test_a_huge_export_is_refused(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(app.db, app.kb, count=3)
    monkeypatch.setattr(exports, "MAX_ROWS", 2)
    async with app.db.unit() as repo:
        with pytest.raises(exports.ExportTooLarge):
            await exports.export(repo, app.kb, "xlsx")


async def test_web_export_is_audited(
    app: App, signed_in: Callable[[int], Awaitable[httpx.AsyncClient]]
) -> None:
    client = await signed_in(COORDINATOR)
    response = await client.get("/export/xlsx", params={"industry": "manufacturing"})
    assert response.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames == SHEETS
    anonymised = await client.get("/export/csv", params={"anonymised": "1"})
    assert anonymised.headers["content-type"] == "application/zip"
    async with app.db.unit() as repo:
        entries = await repo.audit.recent()
    logged = [(e.action, e.actor_id, e.subject) for e in entries]
    assert ("export_xlsx", COORDINATOR, "industry=manufacturing") in logged
    assert ("export_csv_anon", COORDINATOR, "") in logged


async def test_command_line_export(
    app: App, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(app.db, app.kb, count=2)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    out = tmp_path / "out.xlsx"
    await app.db.dispose()  # the command opens the database itself
    import asyncio

    code = await asyncio.to_thread(
        main, ["export", "--format", "xlsx", "--anonymised", "--out", str(out)]
    )
    assert code == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == SHEETS
    assert "name" not in next(book["companies"].iter_rows(values_only=True))
    bad = await asyncio.to_thread(
        main, ["export", "--format", "csv", "--from", "yesterday", "--out", str(out)]
    )
    assert bad == 2
