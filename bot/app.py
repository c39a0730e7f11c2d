"""The composition root: settings in, a ready engine (and what it stands on) out."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from dialogs import routers
from dialogs.engine import Engine
from dialogs.faq_match import FaqMatcher
from dialogs.router import Services
from dialogs.store.db import Database
from knowledge.loader import Knowledge, load
from locales.i18n import I18n


@dataclass
class App:
    settings: Settings
    db: Database
    kb: Knowledge
    i18n: I18n
    engine: Engine

    async def close(self) -> None:
        await self.db.dispose()


async def build_app(
    settings: Settings,
    *,
    db: Database | None = None,
    migrate: bool = True,
    kb: Knowledge | None = None,
    i18n: I18n | None = None,
    matcher: FaqMatcher | None = None,
) -> App:
    """Load and check the knowledge base (raises `KnowledgeError`), open the database and
    bring its schema up to date, and wire the engine. Tests pass in the read-only parts
    (knowledge, catalogs, matcher) once instead of building them for every test."""
    kb = kb or load(settings.knowledge_dir)
    i18n = i18n or I18n(settings.default_locale)
    db = db or Database(settings.database_url)
    if migrate:
        await db.migrate()
    services = Services(
        admin_ids=settings.admin_ids,
        staff_chat_id=settings.staff_chat_id,
        bot_username=settings.bot_username.lstrip("@"),
        matcher=matcher or FaqMatcher(kb.faq, kb.synonyms.concepts),
        admin_url=settings.admin_url or f"http://{settings.admin_listen or '127.0.0.1:8081'}",
    )
    return App(settings, db, kb, i18n, Engine(db, kb, i18n, services, routers()))
