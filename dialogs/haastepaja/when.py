"""Dates and times as Finns type them, read in Europe/Helsinki and returned in UTC.

    5.2. klo 13          5 February at 13:00 (the next 5 February that is not past)
    5.2.2027 13:00       with the year
    ti 5.2. klo 13.30    a weekday in front is checked against the date
    5.2. 13-15           a start and an end on that day
    15 / klo 15.30       (for an end) a time on the start's day

Everything is pure: the caller passes `now`, so tests control the clock. A failure is a
`WhenError` with a stable `code` the flow turns into a friendly sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")

# ma ti ke to pe la su, the full Finnish names, and English/Swedish short forms
WEEKDAYS = {
    **{d: i for i, d in enumerate(("ma", "ti", "ke", "to", "pe", "la", "su"))},
    **{
        d: i
        for i, d in enumerate(
            ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai")
        )
    },
    **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{d: i for i, d in enumerate(("mån", "tis", "ons", "tor", "fre", "lör", "sön"))},
}
_TIME = r"(?P<{p}h>\d{{1,2}})(?:[:.](?P<{p}m>\d{{2}}))?"
_DATE = r"(?P<d>\d{1,2})\.(?P<mo>\d{1,2})(?:\.(?P<y>\d{4}|\d{2})?)?(?=\s|,|$)"
_ISO = r"(?P<iy>\d{4})-(?P<imo>\d{1,2})-(?P<id>\d{1,2})"
_KLO = r"(?:klo\.?|kello|kl\.?|at)?"
DATE_TIME_RE = re.compile(
    rf"^(?:(?P<wd>[a-zåäö]+)\.?,?\s+)?(?:{_DATE}|{_ISO})\s*(?:,\s*)?{_KLO}\s*"
    rf"{_TIME.format(p='s')}(?:\s*[-–—]\s*{_TIME.format(p='e')})?$"
)
TIME_RE = re.compile(rf"^{_KLO}\s*{_TIME.format(p='s')}$")


class WhenError(ValueError):
    """`code`: unreadable | no_such_date | no_such_time | weekday | past | end_before |
    deadline_after."""

    def __init__(self, code: str, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class When:
    start: datetime  # UTC
    end: datetime | None = None  # UTC, when a range was typed


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _hm(match: re.Match[str], p: str) -> time:
    hour, minute = int(match[f"{p}h"]), int(match[f"{p}m"] or 0)
    if hour == 24 and minute == 0:
        hour, minute = 23, 59
    if hour > 23 or minute > 59:
        raise WhenError("no_such_time")
    return time(hour, minute)


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, HELSINKI).astimezone(UTC)


def parse_start(text: str, now: datetime) -> When:
    """A start (and perhaps an end) typed by staff; never in the past."""
    match = DATE_TIME_RE.match(_clean(text))
    if match is None:
        raise WhenError("unreadable")
    today = now.astimezone(HELSINKI).date()
    start_time = _hm(match, "s")
    try:
        if match["iy"]:
            day = date(int(match["iy"]), int(match["imo"]), int(match["id"]))
        elif match["y"]:
            year = int(match["y"])
            day = date(year + 2000 if year < 100 else year, int(match["mo"]), int(match["d"]))
        else:
            day = date(today.year, int(match["mo"]), int(match["d"]))
            if _local(day, start_time) <= now:  # "5.2." typed in November: next February
                day = date(today.year + 1, day.month, day.day)
    except ValueError:
        raise WhenError("no_such_date") from None
    if match["wd"]:
        weekday = WEEKDAYS.get(match["wd"])
        if weekday is None:
            raise WhenError("unreadable")
        if weekday != day.weekday():
            raise WhenError("weekday", day=day)
    start = _local(day, start_time)
    if start <= now:
        raise WhenError("past")
    end = None
    if match["eh"]:
        end = _local(day, _hm(match, "e"))
        if end <= start:
            raise WhenError("end_before")
    return When(start, end)


def parse_end(text: str, start: datetime, now: datetime) -> datetime:
    """An end: a time on the start's day ("16", "klo 16.30") or a full date and time."""
    cleaned = _clean(text)
    match = TIME_RE.match(cleaned)
    if match is not None:
        day = start.astimezone(HELSINKI).date()
        end = _local(day, _hm(match, "s"))
    else:
        end = parse_start(text, now).start
    if end <= start:
        raise WhenError("end_before")
    return end


def parse_deadline(text: str, start: datetime, now: datetime) -> datetime:
    """A signup deadline: a date ("3.2.", end of that day) or a date and time; before the start."""
    cleaned = _clean(text)
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.(\d{4}|\d{2})?", cleaned):
        cleaned += " 23.59"
    deadline = parse_start(cleaned, now).start
    if deadline > start:
        raise WhenError("deadline_after")
    return deadline


def local(moment: datetime) -> datetime:
    return moment.astimezone(HELSINKI)


def fmt(moment: datetime, with_weekday: bool = True, lang: str = "fi") -> str:
    """`ti 5.2.2027 klo 13.00` (fi) / `Tue 5.2.2027 13:00` (en) / `tis 5.2.2027 kl. 13.00`."""
    t = local(moment)
    names = {
        "fi": ("ma", "ti", "ke", "to", "pe", "la", "su"),
        "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    }[lang if lang in ("fi", "en", "sv") else "fi"]
    clock = {"fi": f"klo {t:%H.%M}", "en": f"{t:%H:%M}", "sv": f"kl. {t:%H.%M}"}.get(
        lang, f"klo {t:%H.%M}"
    )
    day = f"{t.day}.{t.month}.{t.year}"
    return f"{names[t.weekday()]} {day} {clock}" if with_weekday else f"{day} {clock}"


def fmt_span(start: datetime, end: datetime, lang: str = "fi") -> str:
    """`ti 5.2.2027 klo 13.00–15.00`; an end on another day is written out in full."""
    if local(start).date() == local(end).date():
        e = local(end)
        return (
            f"{fmt(start, lang=lang)}–{e:%H.%M}"
            if lang != "en"
            else (f"{fmt(start, lang=lang)}–{e:%H:%M}")
        )
    return f"{fmt(start, lang=lang)} – {fmt(end, lang=lang)}"


def reminder_times(start: datetime, now: datetime) -> tuple[datetime | None, datetime | None]:
    """Due times of the 24 h and 2 h reminders; None for one whose moment has passed."""
    day, hours = start - timedelta(hours=24), start - timedelta(hours=2)
    return (day if day > now else None, hours if hours > now else None)
