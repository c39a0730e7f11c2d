"""Keep the catalogs in step with the code: `kierto-bot i18n update` and `… check`.

`update` extracts every marked string (`_()`, `n_()`, `N_()`) from bot/ and dialogs/ (the
back office's Jinja templates included) into
locales/messages.pot and merges it into the fi, en and sv catalogs. English is the source
language, so new English entries are filled with the source text itself (edit them there
to change the English wording without touching code); Finnish and Swedish entries are left
empty for a translator. `check` lists every string that lacks a translation.
"""

from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

import locales
from locales.i18n import LANGS

ROOT = Path(locales.DIR).parent
KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}
SOURCES = ("bot", "dialogs")


def extract() -> Catalog:
    """A template catalog of every marked string in the code."""
    template = Catalog(project="kierto-bot", fuzzy=False)
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / source,
            method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
        ):
            template.add(
                message,
                None,
                [(f"{source}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def _po_path(lang: str) -> Path:
    return locales.DIR / lang / "LC_MESSAGES" / f"{locales.DOMAIN}.po"


def _read(lang: str) -> Catalog:
    path = _po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, project="kierto-bot")
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def missing(template: Catalog | None = None) -> dict[str, list[str]]:
    """Per language, the source strings with no (or only a fuzzy) translation."""
    template = template or extract()
    result: dict[str, list[str]] = {}
    for lang in LANGS:
        catalog = _read(lang)
        gaps = []
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id, context=message.context)
            strings = (
                found.string
                if found and isinstance(found.string, tuple)
                else (found.string,)
                if found
                else ("",)
            )
            if found is None or found.fuzzy or not all(strings):
                gaps.append(message.id if isinstance(message.id, str) else message.id[0])
        result[lang] = gaps
    return result


# Catalogs are written sorted by source text, without file:line comments and with a fixed
# creation date, so that two branches that each add strings merge without conflicts and a
# change that only moves code leaves the catalogs untouched.
STABLE = {"width": 100, "sort_output": True, "no_location": True}
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def update() -> int:
    template = extract()
    template.creation_date = FIXED_DATE
    with (locales.DIR / f"{locales.DOMAIN}.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, **STABLE)
    for lang in LANGS:
        catalog = _read(lang)
        # update() adopts the template's message objects: give each catalog its own copy
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        if lang == "en":
            for message in catalog:
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if message.id and (message.fuzzy or not all(strings)):
                    message.string = message.id
                    message.flags.discard("fuzzy")
        catalog.obsolete.clear()
        path = _po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, ignore_obsolete=True, **STABLE)
    gaps = missing(template)
    for lang, ids in gaps.items():
        print(f"{lang}: {len(template) - len(ids)} translated, {len(ids)} missing")
    return 0


def check() -> int:
    gaps = missing()
    for lang, ids in gaps.items():
        for message_id in ids:
            print(f"{lang}: missing: {message_id!r}")
    total = sum(len(ids) for ids in gaps.values())
    print(f"{total} missing translation(s)", file=sys.stderr if total else sys.stdout)
    return 1 if total else 0
