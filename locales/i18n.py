"""Languages: gettext catalogs in `locales/`, plural forms, dates and numbers, all by Babel.

The `.po` files are read at start and compiled in memory, so a fresh clone needs no build
step. Source strings are English and are marked in code with `_()` (and `n_()` for plural
forms); `kierto-bot i18n update` extracts them and merges the catalogs.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

import locales

LANGS: tuple[str, ...] = ("fi", "en", "sv")
LANGUAGE_NAMES = {"fi": "Suomi", "en": "English", "sv": "Svenska"}
TIMEZONE = ZoneInfo("Europe/Helsinki")


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; it is translated where it is shown."""
    return message


def load_catalog(lang: str, directory: Path = locales.DIR) -> Translations:
    """Read `<dir>/<lang>/LC_MESSAGES/messages.po` and compile it in memory."""
    path = directory / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
    buffer.seek(0)
    return Translations(fp=buffer)


class Translator:
    """Texts, plurals, dates and numbers for one language."""

    def __init__(self, lang: str, translations: Translations) -> None:
        self.lang = lang
        self.locale = Locale.parse(lang)
        self._t = translations

    def _(self, message: str, /, **values: object) -> str:
        text = self._t.gettext(message)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, fraction: float) -> str:
        return format_percent(fraction, locale=self.locale)

    def date(self, value: date | datetime, fmt: str = "medium") -> str:
        if isinstance(value, datetime):
            value = _local(value).date()
        return format_date(value, format=fmt, locale=self.locale)

    def datetime(self, value: datetime, fmt: str = "short") -> str:
        return format_datetime(_local(value), format=fmt, locale=self.locale)


def _local(value: datetime) -> datetime:
    """Stored times are UTC; people in Tampere read them in Finnish time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TIMEZONE)


class I18n:
    def __init__(self, default: str = "fi", directory: Path = locales.DIR) -> None:
        self.default = default
        self._translators = {
            lang: Translator(lang, load_catalog(lang, directory)) for lang in LANGS
        }

    def pick(self, language_code: str | None) -> str:
        """Telegram's `language_code` ("fi", "sv-FI", "en-GB"…) to one of ours."""
        if language_code:
            base = language_code.replace("_", "-").split("-")[0].lower()
            if base in LANGS:
                return base
        return self.default

    def __call__(self, lang: str) -> Translator:
        return self._translators.get(lang) or self._translators[self.default]
