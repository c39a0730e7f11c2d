"""Small value helpers: UTF-16 lengths, chat ids, lenient int/bool parameters."""

from __future__ import annotations

import time
from typing import Any

from tests.fake_telegram.errors import ApiError


def _u16(s: str) -> int:
    """Length in UTF-16 code units (what Telegram's entity offsets count)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def _same_chat(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def _as_int(value: Any, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _now() -> int:
    return int(time.time())
