"""Small rendering helpers for flows: escaping, keyboards, bars."""

from __future__ import annotations

import html
from collections.abc import Iterable

from dialogs.actions import Btn, Keyboard

MAX_ROW = 8  # Telegram shows at most 8 inline buttons in a row


def esc(text: str) -> str:
    """Escape user-supplied (or knowledge-base) text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def rows(buttons: Iterable[Btn], per_row: int = 1) -> Keyboard:
    """Lay buttons out `per_row` to a row (never more than Telegram's 8)."""
    per_row = max(1, min(per_row, MAX_ROW))
    items = list(buttons)
    return tuple(tuple(items[i : i + per_row]) for i in range(0, len(items), per_row))


def auto_rows(buttons: Iterable[Btn]) -> Keyboard:
    """Short labels two or three to a row, long ones alone, so labels stay readable."""
    items = list(buttons)
    longest = max((len(b.label) for b in items), default=0)
    per_row = 3 if longest <= 10 else 2 if longest <= 20 else 1
    return rows(items, per_row)


def join(*keyboards: Keyboard) -> Keyboard:
    return tuple(row for keyboard in keyboards for row in keyboard)


def bar(fraction: float, width: int = 10) -> str:
    """A text bar like ▰▰▰▱▱▱▱▱▱▱ for a fraction 0..1."""
    fraction = min(1.0, max(0.0, fraction))
    full = round(fraction * width)
    return "▰" * full + "▱" * (width - full)
