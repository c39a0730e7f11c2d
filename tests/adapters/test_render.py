"""Telegram's limits applied to neutral actions: splitting, captions, keyboards."""

from __future__ import annotations

import re

import pytest

from bot.adapters.render import (
    MESSAGE_LIMIT,
    ROW_LIMIT,
    plain,
    split_html,
    visible_length,
    wrap_rows,
)
from dialogs.actions import Btn

TAG = re.compile(r"</?([a-z]+)>")


def balanced(part: str) -> bool:
    stack: list[str] = []
    for match in TAG.finditer(part):
        if match.group(0).startswith("</"):
            if not stack or stack.pop() != match.group(1):
                return False
        else:
            stack.append(match.group(1))
    return not stack


def test_visible_length_counts_what_telegram_counts() -> None:
    assert visible_length("<b>abc</b> &amp; d") == 7
    assert visible_length("🙂") == 2  # UTF-16 code units, as the Bot API counts


def test_short_text_is_one_part() -> None:
    assert split_html("<b>hei</b>") == ["<b>hei</b>"]


def test_long_text_splits_at_paragraphs() -> None:
    paragraphs = [f"<b>Otsikko {i}</b>\n" + "sana " * 150 for i in range(12)]
    text = "\n\n".join(paragraphs)
    parts = split_html(text)
    assert len(parts) > 1
    assert all(visible_length(p) <= MESSAGE_LIMIT for p in parts)
    assert all(balanced(p) for p in parts)
    assert all(p.startswith("<b>Otsikko") for p in parts)  # cut between paragraphs
    assert plain("\n\n".join(parts)).split() == plain(text).split()  # nothing lost


def test_one_huge_paragraph_keeps_tags_balanced() -> None:
    text = "<b>" + "a" * 9000 + "</b>"
    parts = split_html(text)
    assert len(parts) == 3
    assert all(balanced(p) and visible_length(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(plain(p) for p in parts) == "a" * 9000


def test_entities_are_never_cut() -> None:
    text = "&amp;" * 5000
    parts = split_html(text)
    assert all(re.fullmatch(r"(&amp;)+", p) for p in parts)
    assert sum(visible_length(p) for p in parts) == 5000


@pytest.mark.parametrize("limit", [1024, 4096])
def test_captions_and_messages_respect_their_limit(limit: int) -> None:
    text = "x " * 3000
    assert all(visible_length(p) <= limit for p in split_html(text, limit))


def test_rows_are_wrapped_at_eight_buttons() -> None:
    row = tuple(Btn(str(i), f"p:{i}") for i in range(19))
    rows = wrap_rows((row,))
    assert [len(r) for r in rows] == [ROW_LIMIT, ROW_LIMIT, 3]
    assert [b.payload for r in rows for b in r] == [b.payload for b in row]
