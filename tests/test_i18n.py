"""Languages: every message exists in fi, en and sv; plurals, dates and numbers by Babel."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import locales
from bot import i18n_tools
from locales.i18n import I18n

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
TAG = re.compile(r"</?[a-z]+>")


def code_messages() -> set[str]:
    """Every string literal passed to _(), N_() or n_() in the code, found with `ast` (which,
    unlike the extractor, also sees calls inside f-strings: those would never be translated)."""
    found: set[str] = set()
    for source in ("bot", "dialogs"):
        for path in (ROOT / source).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in ("_", "N_", "n_") and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        found.add(first.value)
    return found


def catalog(lang: str):
    path = locales.DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def test_every_marked_string_is_extracted() -> None:
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n_tools.extract() if m.id}
    hidden = code_messages() - extracted
    assert not hidden, f"marked but not extractable (inside an f-string?): {sorted(hidden)}"


def test_every_message_is_translated_in_fi_en_and_sv() -> None:
    missing = i18n_tools.missing()
    assert missing == {"fi": [], "en": [], "sv": []}, missing


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
def test_translations_keep_placeholders_and_markup(lang: str) -> None:
    problems = []
    for message in catalog(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        want = set(PLACEHOLDER.findall(" ".join(ids)))
        for text in strings:
            if (
                set(PLACEHOLDER.findall(text)) != want - ({"{n}"} if len(ids) > 1 else set())
                and set(PLACEHOLDER.findall(text)) != want
            ):
                problems.append((ids[0], text))
            if sorted(TAG.findall(text)) != sorted(TAG.findall(ids[0])):
                problems.append((ids[0], text))
    assert not problems, problems


def test_plural_forms_follow_the_language() -> None:
    i18n = I18n()
    assert i18n("en").n_("{n} open ticket:", "{n} open tickets:", 1) == "1 open ticket:"
    assert i18n("en").n_("{n} open ticket:", "{n} open tickets:", 3) == "3 open tickets:"
    one = i18n("fi").n_("{n} open ticket:", "{n} open tickets:", 1)
    many = i18n("fi").n_("{n} open ticket:", "{n} open tickets:", 3)
    assert one.startswith("1 ") and many.startswith("3 ") and one != many.replace("3", "1")


def test_dates_and_numbers_are_formatted_for_the_locale() -> None:
    i18n = I18n()
    day = date(2026, 11, 27)
    assert i18n("fi").date(day) == "27.11.2026"
    assert i18n("en").date(day) == "Nov 27, 2026"
    assert i18n("sv").date(day) == "27 nov. 2026"
    assert i18n("fi").number(1234.5, 1) == "1\xa0234,5"
    assert i18n("en").number(1234.5, 1) == "1,234.5"
    # stored times are UTC and shown in Finnish time (UTC+2 in November)
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert i18n("fi").date(late) == "28.11.2026"


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("fi", "fi"),
        ("sv-FI", "sv"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("de", "fi"),
        (None, "fi"),
        ("", "fi"),
    ],
)
def test_telegram_language_code_picks_our_language(code: str | None, lang: str) -> None:
    assert I18n().pick(code) == lang
