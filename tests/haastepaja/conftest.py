"""Haastepaja fixtures: a controllable clock, opted-in people, a staff conversation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dialogs.haastepaja import clock
from tests.adapters.test_runtimes import bot  # noqa: F401  (the running bot, both runtimes)

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # ma 30.11.2026 klo 12.00 in Helsinki


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """The haastepaja clock set to NOW; `frozen[0] = t` (via `at`) moves it."""
    clock.set_now(NOW)
    yield [NOW]
    clock.set_now(None)
