"""The operator profile in texts: the `{operator}` / `{contact}` placeholders and the checks.

Texts in the other YAML files name who runs the bot and how to reach its people only through
two placeholders, so that one edit of operator.yaml changes every answer, tip and service
description at once. `fill` replaces them for one language; `unknown_placeholders` and
`example_markers` are the checks `kierto-bot kb check` runs (the first an error, the second a
warning: the shipped example still runs, so a new operator can try the bot before filling in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from knowledge.schema import L10n, L10nList, Operator

PLACEHOLDERS: tuple[str, ...] = ("operator", "contact")
# `{name}` with an identifier inside; a lone brace in prose ("{" is rare) is not a placeholder.
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What the example profile marks as "fill me in".
EXAMPLE_RE = re.compile(r"\[\[.*?\]\]", re.DOTALL)


def values(operator: Operator, lang: str) -> dict[str, str]:
    """What each placeholder becomes in `lang`."""
    return {"operator": operator.name.get(lang), "contact": operator.contact.get(lang)}


def fill(text: str, operator: Operator, lang: str) -> str:
    """`text` with `{operator}` and `{contact}` replaced for `lang`; anything else untouched.

    A regular expression rather than `str.format`, so that a stray brace in content can never
    raise or reach into an object's attributes.
    """
    known = values(operator, lang)
    return PLACEHOLDER_RE.sub(lambda m: known.get(m.group(1), m.group(0)), text)


def fill_all(model: Any, operator: Operator) -> Any:
    """`model` (a pydantic model, list or dict of them) with every text filled in, per language.

    The loader runs this once, so that every renderer (chat, PDF, back office) shows the
    operator's values without having to remember to; unchanged parts are shared, not copied.
    """
    if isinstance(model, L10n):
        filled = {lang: fill(model.get(lang), operator, lang) for lang in ("fi", "en", "sv")}
        return model if filled == model.model_dump() else L10n(**filled)
    if isinstance(model, L10nList):
        lists = {
            lang: [fill(t, operator, lang) for t in model.get(lang)] for lang in ("fi", "en", "sv")
        }
        return model if lists == model.model_dump() else L10nList(**lists)
    if isinstance(model, BaseModel):
        changed = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            new = fill_all(value, operator)
            if new is not value:
                changed[name] = new
        return model.model_copy(update=changed) if changed else model
    if isinstance(model, list):
        items = [fill_all(item, operator) for item in model]
        return model if all(a is b for a, b in zip(items, model, strict=True)) else items
    if isinstance(model, dict):
        new_dict = {key: fill_all(value, operator) for key, value in model.items()}
        same = all(new_dict[k] is v for k, v in model.items())
        return model if same else new_dict
    return model


def strings(
    data: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in parsed YAML with its path, for checks that look at all texts."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from strings(value, (*path, index))


def unknown_placeholders(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, name) of every `{name}` that is not a known placeholder."""
    for path, text in strings(data):
        for match in PLACEHOLDER_RE.finditer(text):
            if match.group(1) not in PLACEHOLDERS:
                yield path, match.group(1)


def example_markers(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, marker) of every `[[…]]` the operator has not yet replaced."""
    for path, text in strings(data):
        for match in EXAMPLE_RE.finditer(text):
            yield path, " ".join(match.group(0).split())
