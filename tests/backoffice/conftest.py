"""Back office fixtures: a seeded app, its web application, and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bot.app import App
from bot.backoffice.web import create_app
from tests.backoffice.seed import seed
from tests.conversation import Conversation

COORDINATOR = 7  # in ADMIN_IDS of the shared `settings` fixture
STAFF = 8
OUTSIDER = 9
LINK_RE = re.compile(r'href="(https?://[^"]+/login\?t=[^"]+)"')


@pytest.fixture
async def seeded(app: App) -> AsyncIterator[App]:
    await seed(app.db, app.kb, first_name="=cmd|' /C calc'!A0")
    async with app.db.unit() as repo:
        user, _ = await repo.users.lock(STAFF, "fi")
        user.roles = "staff"
        await repo.users.lock(OUTSIDER, "fi")
    yield app


@pytest.fixture
async def web(seeded: App) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    asgi = create_app(seeded)
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        made = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://bo")
        clients.append(made)
        return made

    yield client
    for made in clients:
        await made.aclose()


async def link_from_bot(app: App, user_id: int) -> str:
    """The sign-in link `/admin` sends to `user_id` in a private chat."""
    chat = Conversation(app.engine, user_id=user_id, lang="fi")
    await chat.send("/admin")
    match = LINK_RE.search(chat.last.text)
    assert match, chat.last.text
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def signed_in(
    seeded: App, web: Callable[..., httpx.AsyncClient]
) -> Callable[[int], Awaitable[httpx.AsyncClient]]:
    async def sign_in(user_id: int) -> httpx.AsyncClient:
        link = await link_from_bot(seeded, user_id)
        token = link.split("t=", 1)[1]
        client = web()
        response = await client.post("/login", data={"t": token})
        assert response.status_code == 303, response.text
        return client

    return sign_in
