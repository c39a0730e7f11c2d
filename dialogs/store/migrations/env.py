"""Alembic environment.

The bot runs migrations itself (`Database.migrate`, `kierto-bot db upgrade`) and hands its
own connection in through `config.attributes["connection"]`. For writing a new migration,
`kierto-bot db revision -m "what changed"` autogenerates one against DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

# both modules register their tables on SQLModel.metadata
import dialogs.store.haastepaja
import dialogs.store.models  # noqa: F401

target_metadata = SQLModel.metadata
DEFAULT_URL = "sqlite+aiosqlite:///./data/kierto.db"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Plain `alembic` run by hand: the same variable the bot reads (the bot itself always
    # hands its connection in, so the store never reaches up into bot.config).
    asyncio.run(_run_with_own_engine(os.environ.get("DATABASE_URL", DEFAULT_URL)))
