"""The door's web server: the webhook (Telegram's secret-token header checked before
anything is parsed), readiness (/healthz, also /readyz) for the balancer and liveness
(/livez) for the orchestrator.

A replica's life as the balancer sees it (`Readiness`):

    starting  the web server listens (a port in use fails at once) but the door is not
              prepared: /healthz answers 503, a webhook request 503 with Retry-After
    ready     store reachable, schema checked, knowledge loaded, runtime started:
              /healthz answers 200 while a `SELECT 1` succeeds (503 when it does not)
    draining  from SIGTERM on: /healthz answers 503 so that the balancer takes the
              replica out; webhook requests that still arrive are handled as usual (with
              `Connection: close`, so the balancer's next request opens a new connection
              and meets a closed port, which it sends to another replica); see `drain`

/livez answers 200 in every state while the event loop runs: restart the process when it
fails, never merely because the database is away or the replica is draining.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import text as sql

from bot.adapters.guard import head_received, read_body
from bot.adapters.telegram.order import RepliesOnTheirWay
from dialogs.store.db import StoreUnavailable

if TYPE_CHECKING:
    from bot.adapters.telegram.door import TelegramDoor

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 256 * 1024  # an update is a few kB; Telegram's own limit for text is 4,096 chars
RETRY_AFTER = "5"  # seconds, with a 503 while the database is unreachable
QUIET = 0.5  # seconds without a webhook request after which a draining replica closes


class Readiness:
    """starting -> ready -> draining (see the module docstring). `ready()` is called once
    the door is prepared; draining starts when `stopping` is set (SIGTERM)."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self.stopping = stopping
        self.prepared = False
        self.probes_draining = 0  # readiness probes answered "draining"
        self.last_request = 0.0  # time.monotonic() of the newest webhook request

    @property
    def state(self) -> str:
        if self.stopping.is_set():
            return "draining"
        return "ready" if self.prepared else "starting"

    def ready(self) -> None:
        self.prepared = True

    def request(self) -> None:
        self.last_request = time.monotonic()

    async def drain(self, seconds: float) -> float:
        """After SIGTERM: keep taking webhook requests until the balancer has seen this
        replica draining (a readiness probe answered 503) and sends nothing more (no
        request for `QUIET` s), for `seconds` at most. Returns the seconds it took."""
        started = time.monotonic()
        if not self.prepared:
            return 0.0  # never ready: no balancer sends it anything
        while (elapsed := time.monotonic() - started) < seconds:
            quiet = time.monotonic() - max(self.last_request, started) >= QUIET
            if self.probes_draining and quiet:
                break
            await asyncio.sleep(0.05)
        return elapsed


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def web_app(
    door: TelegramDoor, webhook_path: str | None = None, secret: str | None = None
) -> web.Application:
    """/healthz (/readyz) and /livez, and with `webhook_path` the webhook that hands updates
    to `door`."""
    # head_received: the guard's deadline for request heads (see bot.adapters.guard)
    app = web.Application(client_max_size=MAX_BODY, middlewares=[head_received])
    readiness = door.readiness

    async def health(request: web.Request) -> web.Response:
        state = readiness.state
        database = "not checked"
        if state == "ready":
            try:
                async with asyncio.timeout(3), door.app.db.engine.connect() as conn:
                    await conn.execute(sql("SELECT 1"))
                database = "ok"
            except Exception as exc:  # any failure means unhealthy
                database = type(exc).__name__
        elif state == "draining":
            readiness.probes_draining += 1
        healthy = database == "ok"
        status = "ok" if healthy else ("unhealthy" if state == "ready" else state)
        return web.json_response(
            {
                "status": status,
                "database": database,
                # Redis is an optimisation: "unreachable" means per-process flood control
                # and send budget for now, not an unhealthy bot
                "redis": getattr(door.throttle, "state", "off"),
                "send_budget": getattr(door.sender.send_rate, "state", "off"),
                "runtime": door.transport.name,
                "updates_in_hand": door.progress.in_hand,
            },
            status=200 if healthy else 503,
            headers=None if healthy else {"Retry-After": "1"},
        )

    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive", "state": readiness.state})

    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", health)
    app.router.add_get("/livez", live)
    if webhook_path is None:
        return app
    expected = (secret or "").encode()

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            log.warning("webhook request without the right secret token refused")
            return web.Response(status=401, text="unauthorized")
        readiness.request()
        if not readiness.prepared:
            # still starting (the balancer should not have sent it): Telegram tries again
            return web.Response(status=503, text="starting", headers={"Retry-After": "1"})
        body = await read_body(request, door.app.settings.webhook_timeout)
        if body is None:
            return web.Response(status=408, text="body too slow")
        try:
            update = door.transport.parse_update(json.loads(body))
        except Exception:  # not JSON, or not an update
            return web.Response(status=400, text="bad update")
        try:
            await door.handle(update)
        except RepliesOnTheirWay:
            # handled before; its replies are still being sent (by another replica):
            # confirming now would let the person's next update overtake them
            return web.Response(
                status=503, text="replies on their way", headers={"Retry-After": "1"}
            )
        except StoreUnavailable:
            # nothing was done: Telegram delivers the update again later
            return web.Response(
                status=503, text="database unavailable", headers={"Retry-After": RETRY_AFTER}
            )
        if readiness.stopping.is_set():
            # draining: the balancer's next request must open a new connection (and find
            # the port closed) rather than race this server's close on a kept-alive one
            return web.Response(text="ok", headers={"Connection": "close"})
        return web.Response(text="ok")

    app.router.add_post(webhook_path, webhook)
    return app
