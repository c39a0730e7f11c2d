"""Telegram's limits, applied to the engine's neutral actions before any library sees them.

- A message is at most 4,096 characters after entity parsing, a caption 1,024: longer texts
  are split at paragraph boundaries (then lines, then words), keeping HTML tags balanced in
  every part, with the keyboard on the last part.
- An inline keyboard row holds at most 8 buttons: longer rows are wrapped.
"""

from __future__ import annotations

import html
import re

from dialogs.actions import Keyboard

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
ROW_LIMIT = 8

TAG_RE = re.compile(r"<(/?)([a-z-]+)([^>]*)>")


def visible_length(text: str) -> int:
    """Length as Telegram counts it: tags removed, entities decoded, in UTF-16 code units."""
    plain = html.unescape(TAG_RE.sub("", text))
    return len(plain.encode("utf-16-le")) // 2


def _open_tags(text: str) -> list[tuple[str, str]]:
    """Tags still open at the end of `text`, outermost first, as (name, attributes)."""
    stack: list[tuple[str, str]] = []
    for closing, name, attrs in TAG_RE.findall(text):
        if closing:
            for index in range(len(stack) - 1, -1, -1):
                if stack[index][0] == name:
                    del stack[index:]
                    break
        else:
            stack.append((name, attrs))
    return stack


def _pieces(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` visible characters at the best boundary."""
    if visible_length(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) == 1:
            continue
        pieces: list[str] = []
        current = ""
        for part in parts:
            candidate = part if not current else current + separator + part
            if visible_length(candidate) <= limit:
                current = candidate
                continue
            if current:
                pieces.append(current)
            current = part
        pieces.append(current)
        if all(visible_length(p) <= limit for p in pieces):
            return pieces
        return [q for p in pieces for q in _pieces(p, limit)]
    # one unbroken word: cut between characters, never inside a tag or an entity
    tokens = re.findall(r"<[^>]*>|&[#\w]+;|.", text, re.S)
    pieces, current, size = [], "", 0
    for token in tokens:
        width = 0 if token.startswith("<") else visible_length(token)
        if size + width > limit and current:
            pieces.append(current)
            current, size = "", 0
        current += token
        size += width
    pieces.append(current)
    return pieces


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Telegram HTML into parts within `limit`, each with balanced tags."""
    out: list[str] = []
    carried: list[tuple[str, str]] = []
    # leave room for tags re-opened and closed around a cut
    for piece in _pieces(text, limit):
        prefix = "".join(f"<{name}{attrs}>" for name, attrs in carried)
        body = prefix + piece
        still_open = _open_tags(body)
        suffix = "".join(f"</{name}>" for name, _ in reversed(still_open))
        out.append(body + suffix)
        carried = still_open
    return [part for part in out if TAG_RE.sub("", part).strip()] or [""]


def wrap_rows(keyboard: Keyboard) -> Keyboard:
    """Rows longer than Telegram's 8 buttons are wrapped."""
    rows = []
    for row in keyboard:
        for start in range(0, len(row), ROW_LIMIT):
            rows.append(row[start : start + ROW_LIMIT])
    return tuple(rows)


def plain(text: str) -> str:
    """The text without markup: the fallback if Telegram ever refuses our HTML."""
    return html.unescape(TAG_RE.sub("", text))
