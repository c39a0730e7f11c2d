"""The haastepaja's clock: UTC now, which tests (and the console) may set.

Deadlines, reminders and scheduled sends all read it, so a test moves time forward
instead of waiting."""

from __future__ import annotations

from datetime import datetime

from dialogs.store.models import utcnow

_fixed: datetime | None = None


def now() -> datetime:
    return _fixed if _fixed is not None else utcnow()


def set_now(moment: datetime | None) -> None:
    """Freeze the clock at `moment` (None: the real clock again)."""
    global _fixed
    _fixed = moment
