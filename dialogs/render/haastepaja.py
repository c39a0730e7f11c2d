"""Files for a haastepaja: the calendar entry, the check-in QR code, the attendee list.

Pure functions from plain values to bytes, so the flows stay free of file formats and the
tests can open what they produce.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

import segno
import xlsxwriter
from icalendar import Calendar
from icalendar import Event as IcsEvent

PRODID = "-//KIERTO//kierto-bot haastepaja//FI"


def ics(
    uid: str,
    title: str,
    start: datetime,
    end: datetime,
    place: str,
    description: str,
    url: str | None,
    stamp: datetime,
    cancelled: bool = False,
) -> bytes:
    """One VEVENT in UTC (calendars show it in their own time zone)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = IcsEvent()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", title)
    if place:
        event.add("location", place)
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


def qr_png(link: str, scale: int = 8) -> bytes:
    """A QR code of `link` as PNG, large enough to print or show on a screen."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


@dataclass(frozen=True)
class AttendeeRow:
    status: str
    name: str
    company: str
    checked_in: str
    answered: str


def safe_cell(value: str) -> str:
    """A cell that a spreadsheet must not run as a formula (=, +, -, @, tab, CR)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def attendees_csv(header: tuple[str, ...], rows: list[AttendeeRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")  # what Finnish Excel opens without a wizard
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [safe_cell(v) for v in (r.status, r.name, r.company, r.checked_in, r.answered)]
        )
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel reads UTF-8 then


def attendees_xlsx(title: str, header: tuple[str, ...], rows: list[AttendeeRow]) -> bytes:
    out = io.BytesIO()
    # strings_to_formulas off: a name like "=HYPERLINK(…)" stays text
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet(title[:31] or "haastepaja")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, header, bold)
    for i, r in enumerate(rows, start=1):
        sheet.write_row(
            i, 0, [safe_cell(v) for v in (r.status, r.name, r.company, r.checked_in, r.answered)]
        )
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 2, 28)
    sheet.set_column(3, 4, 18)
    book.close()
    return out.getvalue()
