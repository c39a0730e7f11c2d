"""The door's web server: the webhook (Telegram's secret-token header checked before
anything is parsed) and /healthz for the orchestrator."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import text as sql

from bot.adapters.guard import head_received, read_body
from dialogs.store.db import StoreUnavailable

if TYPE_CHECKING:
    from bot.adapters.telegram.door import TelegramDoor

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 256 * 1024  # an update is a few kB; Telegram's own limit for text is 4,096 chars
RETRY_AFTER = "5"  # seconds, with a 503 while the database is unreachable


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def web_app(
    door: TelegramDoor, webhook_path: str | None = None, secret: str | None = None
) -> web.Application:
    """/healthz, and with `webhook_path` the webhook that hands updates to `door`."""
    # head_received: the guard's deadline for request heads (see bot.adapters.guard)
    app = web.Application(client_max_size=MAX_BODY, middlewares=[head_received])

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
                # Redis is an optimisation: "unreachable" means per-process flood control
                # and send budget for now, not an unhealthy bot
                "redis": getattr(door.throttle, "state", "off"),
                "send_budget": getattr(door.sender.send_rate, "state", "off"),
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
        body = await read_body(request, door.app.settings.webhook_timeout)
        if body is None:
            return web.Response(status=408, text="body too slow")
        try:
            update = door.transport.parse_update(json.loads(body))
        except Exception:  # not JSON, or not an update
            return web.Response(status=400, text="bad update")
        try:
            await door.handle(update)
        except StoreUnavailable:
            # nothing was done: Telegram delivers the update again later
            return web.Response(
                status=503, text="database unavailable", headers={"Retry-After": RETRY_AFTER}
            )
        return web.Response(text="ok")

    app.router.add_post(webhook_path, webhook)
    return app
