"""The door's web server: the webhook (Telegram's secret-token header checked before
anything is parsed) and /healthz for the orchestrator."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import text as sql

if TYPE_CHECKING:
    from bot.adapters.telegram.door import TelegramDoor

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def web_app(
    door: TelegramDoor, webhook_path: str | None = None, secret: str | None = None
) -> web.Application:
    """/healthz, and with `webhook_path` the webhook that hands updates to `door`."""
    app = web.Application(client_max_size=1024**2)

    async def health(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(3), door.app.db.engine.connect() as conn:
                await conn.execute(sql("SELECT 1"))
            database = "ok"
        except Exception as exc:  # any failure means unhealthy
            database = type(exc).__name__
        healthy = database == "ok"
        return web.json_response(
            {
                "status": "ok" if healthy else "unhealthy",
                "database": database,
                "runtime": door.transport.name,
                "updates_in_hand": door.progress.in_hand,
            },
            status=200 if healthy else 503,
        )

    app.router.add_get("/healthz", health)
    if webhook_path is None:
        return app
    expected = (secret or "").encode()

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            log.warning("webhook request without the right secret token refused")
            return web.Response(status=401, text="unauthorized")
        try:
            update = door.transport.parse_update(await request.json())
        except Exception:  # not JSON, or not an update
            return web.Response(status=400, text="bad update")
        await door.handle(update)
        return web.Response(text="ok")

    app.router.add_post(webhook_path, webhook)
    return app
