"""Fixtures for the fake Bot API server's own tests: the server as `fake`, and an HTTP
client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fake_telegram import fake_telegram

fake = pytest.fixture(fake_telegram, name="fake")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
