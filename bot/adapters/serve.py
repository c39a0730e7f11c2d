"""Start the bot in Telegram: long polling or a webhook, with either runtime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.adapters.guard import GuardedSite, quiet_accept_errors
from bot.adapters.telegram import TelegramDoor, Transport, install_signal_handlers, webhook_path
from bot.adapters.telegram.order import EarlierReplies
from bot.app import App
from bot.replicas import Replica
from bot.scheduler import maintenance
from bot.throttle import check_redis, make_send_rate, make_throttle

log = logging.getLogger(__name__)
IN_FLIGHT_LIMIT = timedelta(minutes=2)


def make_transport(app: App, runtime: str) -> Transport:
    token = app.settings.bot_token.get_secret_value() if app.settings.bot_token else ""
    if runtime == "ptb":
        # PTB 22 is moving time periods to timedelta; opting in avoids its deprecation warning
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        from bot.adapters.ptb_runtime import PtbTransport

        return PtbTransport(token, app.settings.telegram_api_url)
    from bot.adapters.aiogram_runtime import AiogramTransport

    return AiogramTransport(token, app.settings.telegram_api_url)


@contextlib.asynccontextmanager
async def beside(app: App, door: TelegramDoor) -> AsyncIterator[None]:
    """What runs beside the Telegram door: the back office, when ADMIN_LISTEN is set.
    (Replies written in the back office are outbox rows, sent by the door's sender loop.)"""
    task: asyncio.Task[None] | None = None
    if app.settings.admin_listen:
        from bot.backoffice.serve import run

        task = asyncio.create_task(run(app, app.settings.admin_listen, door.stopping))
    try:
        yield
    finally:
        door.stopping.set()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


async def _serve_web(
    door: TelegramDoor, app: web.Application, listen: str, shutdown_timeout: float | None = None
) -> web.AppRunner:
    """Start the guarded web server (see bot.adapters.guard) on `listen`; a port in use
    fails here, before anything waits for Telegram."""
    settings = door.app.settings
    if shutdown_timeout is None:
        shutdown_timeout = settings.shutdown_grace
    runner = web.AppRunner(app, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = GuardedSite(
        runner,
        *_split(listen),
        header_timeout=settings.webhook_timeout,
        max_connections=settings.webhook_max_connections,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def settle() -> None:
    """Once ready to serve: move everything built so far (the knowledge base, the FAQ
    index, the catalogs, the Telegram library's models: some 400,000 objects that live as
    long as the process) out of the garbage collector's sight. Each full collection used
    to walk them all, 100–130 ms every second or two under load; `gc.freeze` leaves them
    alone from now on (bench/telegram_load.py measures the difference)."""
    gc.collect()
    gc.freeze()
    gc.enable()  # off during start-up (bot/cli.py)


def _door(app: App, runtime: str) -> TelegramDoor:
    settings = app.settings
    throttle = make_throttle(settings.redis_url, settings.flood_rate, settings.flood_burst)
    send_rate = make_send_rate(settings.redis_url, settings.send_rate)
    return TelegramDoor(app, make_transport(app, runtime), throttle, send_rate)


def _follow(replica: Replica, door: TelegramDoor) -> asyncio.Task[None]:
    """Once-only work runs in the replica that leads (bot/replicas.py): maintenance, and
    the outbox loop's recovery and draining (retries, rows a dead process left,
    broadcasts). Interactive replies are sent by the replica that handled the update
    (`door.outbox.deliver`). Losing this process's place among its peers stops the door."""
    replica.run_once(lambda stop: maintenance(door.app, stop))
    if replica.role == "webhook" and not door.app.db.is_sqlite:
        # other live replicas have rows "sending" right now: only rows stuck longer than
        # any one Bot API attempt were left by a process that died
        door.outbox.in_flight_limit = IN_FLIGHT_LIMIT

    async def watch() -> None:
        lost = asyncio.create_task(replica.lost.wait())
        stopping = asyncio.create_task(door.stopping.wait())
        try:
            await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            stopping.cancel()
        if replica.lost.is_set():
            log.error("stopping: this process lost its place among the replicas")
            door.stopping.set()
        # stopping: another replica takes the once-only jobs now, not after the drain
        await replica.retire()

    return asyncio.create_task(watch())


async def _close(
    door: TelegramDoor, outbox: asyncio.Task[None] | None, grace: float | None = None
) -> None:
    door.stopping.set()
    if outbox is not None:
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(
                outbox, door.app.settings.shutdown_grace if grace is None else max(grace, 0.1)
            )
    await door.throttle.close()
    await door.sender.send_rate.close()
    await door.transport.close()


async def polling(app: App, runtime: str, replica: Replica) -> int:
    settings = app.settings
    door = _door(app, runtime)
    install_signal_handlers(door.stopping)
    quiet_accept_errors()
    await check_redis(settings.redis_url)
    runner: web.AppRunner | None = None
    outbox: asyncio.Task[None] | None = None
    watch = _follow(replica, door)
    try:
        if settings.health_listen:
            runner = await _serve_web(door, door.web_app(), settings.health_listen)
        await door.prepare()
        settle()
        outbox = asyncio.create_task(door.outbox.run(replica.leading.is_set))
        async with beside(app, door):
            await door.poll()
        log.info("stopped polling; the updates in hand were finished")
    finally:
        watch.cancel()
        if runner is not None:
            await runner.cleanup()
        await _close(door, outbox)
    return 0


async def webhook(app: App, runtime: str, replica: Replica) -> int:
    settings = app.settings
    if not settings.webhook_url or settings.webhook_secret is None:
        print(
            "kierto-bot: configuration error: WEBHOOK_URL and WEBHOOK_SECRET are both "
            "needed for the webhook",
            file=sys.stderr,
        )
        return 2
    door = _door(app, runtime)
    door.earlier_replies = EarlierReplies(app.db, door.outbox)
    install_signal_handlers(door.stopping)
    quiet_accept_errors()
    await check_redis(settings.redis_url)
    secret = settings.webhook_secret.get_secret_value()
    runner = await _serve_web(
        door,
        door.web_app(webhook_path(settings.webhook_url), secret),
        settings.webhook_listen,
        # _drain has waited for the updates in hand within SHUTDOWN_GRACE already
        shutdown_timeout=min(1.0, settings.shutdown_grace),
    )
    outbox: asyncio.Task[None] | None = None
    watch = _follow(replica, door)
    try:
        # /healthz answers 503 ("starting") until the door is prepared (web.Readiness)
        await door.prepare()
        settle()
        if not door.stopping.is_set():
            outbox = asyncio.create_task(door.outbox.run(replica.leading.is_set))
            await door.call(lambda: door.transport.set_webhook(settings.webhook_url or "", secret))
            log.info("webhook listening on %s", settings.webhook_listen)
            async with beside(app, door):
                await door.stopping.wait()
    finally:
        left = await _drain(door, runner)
        await asyncio.gather(watch, return_exceptions=True)  # retire() is done
        await _close(door, outbox, left)
    return 0


async def _drain(door: TelegramDoor, runner: web.AppRunner) -> float:
    """SIGTERM in a webhook replica, all within SHUTDOWN_GRACE: /healthz answers 503 at
    once (the replica is draining) while webhook requests are still handled, until the
    balancer has seen it and sends no more (DRAIN_SECONDS at most); then the port is
    closed (a balancer sends what it could not connect for to another replica) and the
    updates in hand are finished and committed. Returns the grace left."""
    settings = door.app.settings
    door.stopping.set()
    started = time.monotonic()
    grace = settings.shutdown_grace
    took = await door.readiness.drain(min(settings.drain_seconds, grace / 2))
    for site in list(runner.sites):
        await site.stop()  # no new connections
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(grace - (time.monotonic() - started), 0.1)):
            await door.progress.settled()
    in_hand = door.progress.in_hand
    await runner.cleanup()  # what is still in hand now is cut off (and comes again)
    log.info(
        "drained in %.1f s (the balancer's part %.1f s); %d update(s) cut off",
        time.monotonic() - started,
        took,
        in_hand,
    )
    return grace - (time.monotonic() - started)
