"""The haastepaja's pure parts: dates as Finns type them, seats, audiences, files."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from dialogs.haastepaja.seats import decide, free_seats, is_full
from dialogs.haastepaja.segments import Profile, Segment, audience, matches
from dialogs.haastepaja.when import (
    HELSINKI,
    WhenError,
    fmt,
    fmt_span,
    parse_deadline,
    parse_end,
    parse_start,
    reminder_times,
)
from dialogs.render.haastepaja import AttendeeRow, attendees_csv, attendees_xlsx, ics, qr_png

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # ma 30.11.2026 klo 12.00 in Helsinki


def helsinki(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI).astimezone(UTC)


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [
        ("5.2. klo 13", helsinki(2027, 2, 5, 13, 0), None),
        ("5.2.2027 13:00", helsinki(2027, 2, 5, 13, 0), None),
        ("5.2. 13-15", helsinki(2027, 2, 5, 13, 0), helsinki(2027, 2, 5, 15, 0)),
        ("ti 2.2. klo 13.30", helsinki(2027, 2, 2, 13, 30), None),
        ("Tiistai 2.2.2027 kello 9", helsinki(2027, 2, 2, 9, 0), None),
        ("5.2 13.30–16", helsinki(2027, 2, 5, 13, 30), helsinki(2027, 2, 5, 16, 0)),
        ("  1.12.  klo  10 ", helsinki(2026, 12, 1, 10, 0), None),
        ("30.11. klo 11", helsinki(2027, 11, 30, 11, 0), None),  # today's 11 passed: next year
        ("30.11. klo 13", helsinki(2026, 11, 30, 13, 0), None),  # later today
        ("2027-02-05 9:00", helsinki(2027, 2, 5, 9, 0), None),
        ("5.7.27 klo 10", helsinki(2027, 7, 5, 10, 0), None),
    ],
)
def test_dates_as_finns_type_them(typed: str, start: datetime, end: datetime | None) -> None:
    when = parse_start(typed, NOW)
    assert when.start == start
    assert when.end == end


def test_summer_time_is_helsinki_time() -> None:
    assert parse_start("5.7.2027 klo 13", NOW).start == datetime(2027, 7, 5, 10, 0, tzinfo=UTC)
    assert parse_start("5.2.2027 klo 13", NOW).start == datetime(2027, 2, 5, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("huomenna", "unreadable"),
        ("lots", "unreadable"),
        ("5.2.", "unreadable"),  # no time
        ("31.2. klo 13", "no_such_date"),
        ("5.2. klo 25", "no_such_time"),
        ("5.2. klo 13.75", "no_such_time"),
        ("5.2.2020 klo 10", "past"),
        ("30.11.2026 klo 11", "past"),
        ("ti 5.2.2027 klo 13", "weekday"),  # 5.2.2027 is a Friday
        ("5.2. 15-13", "end_before"),
        ("xx 5.2. 13", "unreadable"),
    ],
)
def test_bad_dates_say_why(typed: str, code: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_start(typed, NOW)
    assert caught.value.code == code


def test_end_as_a_time_on_the_start_day_or_a_full_date() -> None:
    start = helsinki(2027, 2, 5, 13, 0)
    assert parse_end("16", start, NOW) == helsinki(2027, 2, 5, 16, 0)
    assert parse_end("klo 15.30", start, NOW) == helsinki(2027, 2, 5, 15, 30)
    assert parse_end("6.2. klo 12", start, NOW) == helsinki(2027, 2, 6, 12, 0)
    for bad in ("12", "13", "4.2. klo 12"):
        with pytest.raises(WhenError) as caught:
            parse_end(bad, start, NOW)
        assert caught.value.code == "end_before"


def test_deadline_is_before_the_start() -> None:
    start = helsinki(2027, 2, 5, 13, 0)
    assert parse_deadline("3.2.", start, NOW) == helsinki(2027, 2, 3, 23, 59)
    assert parse_deadline("5.2. klo 9", start, NOW) == helsinki(2027, 2, 5, 9, 0)
    with pytest.raises(WhenError) as caught:
        parse_deadline("6.2.", start, NOW)
    assert caught.value.code == "deadline_after"


def test_display_in_helsinki_per_language() -> None:
    start, end = helsinki(2027, 2, 5, 13, 0), helsinki(2027, 2, 5, 15, 30)
    assert fmt(start) == "pe 5.2.2027 klo 13.00"
    assert fmt(start, lang="en") == "Fri 5.2.2027 13:00"
    assert fmt(start, lang="sv") == "fre 5.2.2027 kl. 13.00"
    assert fmt_span(start, end) == "pe 5.2.2027 klo 13.00–15.30"


def test_reminder_times_skip_what_has_passed() -> None:
    start = NOW + timedelta(hours=10)
    assert reminder_times(start, NOW) == (None, start - timedelta(hours=2))
    start = NOW + timedelta(days=3)
    assert reminder_times(start, NOW) == (start - timedelta(hours=24), start - timedelta(hours=2))


# ---------------------------------------------------------------------- seats


def test_seats_rules() -> None:
    assert decide("yes", None, 0, None) == "going"
    assert decide("yes", None, 4, 5) == "going"
    assert decide("yes", None, 5, 5) == "waitlist"
    assert decide("yes", "waitlist", 4, 5) == "waitlist"  # no queue jumping by pressing again
    assert decide("yes", "going", 5, 5) == "going"
    assert decide("yes", "not_going", 5, 5) == "waitlist"
    assert decide("no", "going", 5, 5) == "not_going"
    assert free_seats(5, 3) == 2 and free_seats(None, 3) is None and free_seats(5, 7) == 0
    assert is_full(5, 5) and not is_full(None, 100)


# ---------------------------------------------------------------------- audiences


def people() -> list[Profile]:
    return [
        Profile(1, "fi", company=True, industry="manufacturing", size="small", level="herannyt",
                themes={"waste": 30.0, "energy": 80.0}),
        Profile(2, "en", company=True, industry="food", size="micro", level="kehittyva",
                themes={"waste": 55.0}),
        Profile(3, "fi", jobseeker=True, tags=frozenset({"textiles", "cooking"})),
        Profile(4, "sv", jobseeker=True, tags=frozenset({"it"})),
        Profile(5, "fi", invitations=False, company=True, industry="manufacturing"),
        Profile(6, "fi", blocked=True, jobseeker=True, tags=frozenset({"textiles"})),
        Profile(7, "fi"),  # opted in, neither group
    ]  # fmt: skip


def ids(segment: Segment) -> list[int]:
    return [p.user_id for p in audience(segment, people())]


def test_segments_only_opted_in_and_never_blocked() -> None:
    assert ids(Segment()) == [1, 2, 3, 4, 7]
    assert ids(Segment(who="companies")) == [1, 2]
    assert ids(Segment(who="jobseekers")) == [3, 4]


def test_segments_combine() -> None:
    assert ids(Segment(who="companies", industries=("manufacturing",))) == [1]
    assert ids(Segment(who="companies", sizes=("micro", "small"))) == [1, 2]
    assert ids(Segment(who="companies", levels=("kehittyva",))) == [2]
    assert ids(Segment(who="companies", weak_theme="waste", weak_below=40)) == [1]
    assert ids(Segment(who="companies", weak_theme="energy", weak_below=40)) == []
    assert ids(Segment(who="companies", weak_theme="strategy")) == []  # no score: not weak
    assert ids(Segment(who="jobseekers", tags=("textiles",))) == [3]
    assert ids(Segment(langs=("fi",))) == [1, 3, 7]
    assert ids(Segment(who="jobseekers", langs=("fi", "sv"), tags=("it", "cooking"))) == [3, 4]


def test_segment_round_trips_through_json() -> None:
    segment = Segment(who="companies", industries=("food",), weak_theme="waste", langs=("fi",))
    assert Segment.from_json(segment.as_json()) == segment
    assert not matches(segment, Profile(9, "fi", invitations=False, company=True))


# ---------------------------------------------------------------------- files


def test_ics_is_a_calendar_entry_in_utc() -> None:
    start, end = helsinki(2027, 2, 5, 13, 0), helsinki(2027, 2, 5, 15, 0)
    data = ics("hp-1@kierto", "Haastepaja", start, end, "Online", "Tervetuloa", None, NOW)
    event = Calendar.from_ical(data).walk("VEVENT")[0]
    assert event["uid"] == "hp-1@kierto"
    assert event.decoded("dtstart") == start and event.decoded("dtend") == end
    assert str(event["summary"]) == "Haastepaja"
    assert str(event["status"]) == "CONFIRMED"


def test_qr_is_a_png() -> None:
    assert qr_png("https://t.me/kierto_bot?start=in_abc").startswith(b"\x89PNG\r\n\x1a\n")


def test_attendee_lists_escape_formulas() -> None:
    rows = [AttendeeRow("going", "=HYPERLINK(\"x\")", "+Acme", "", "1.2.2027"),
            AttendeeRow("waitlist", "Maija", "Oy Ab", "✓", "2.2.2027")]  # fmt: skip
    header = ("Status", "Name", "Company", "Checked in", "Answered")
    text = attendees_csv(header, rows).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert table[1][1] == '\'=HYPERLINK("x")' and table[1][2] == "'+Acme"
    assert table[2][1] == "Maija"
    xlsx = attendees_xlsx("Haastepaja", header, rows)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet  # no formula cells
    assert "&apos;=HYPERLINK" in strings or "'=HYPERLINK" in strings
