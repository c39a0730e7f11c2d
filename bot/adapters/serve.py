"""Start the bot in Telegram: long polling or a webhook, with either runtime."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from aiohttp import web

from bot.adapters.telegram import TelegramDoor, Transport, install_signal_handlers, webhook_path
from bot.app import App
from bot.replicas import Replica
from bot.scheduler import maintenance
from bot.throttle import make_throttle

log = logging.getLogger(__name__)


def make_transport(app: App, runtime: str) -> Transport:
    token = app.settings.bot_token.get_secret_value() if app.settings.bot_token else ""
    if runtime == "ptb":
        # PTB 22 is moving time periods to timedelta; opting in avoids its deprecation warning
        os.environ.setdefault("PTB_TIMEDELTA", "1")
        from bot.adapters.ptb_runtime import PtbTransport

        return PtbTransport(token, app.settings.telegram_api_url)
    from bot.adapters.aiogram_runtime import AiogramTransport

    return AiogramTransport(token, app.settings.telegram_api_url)


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def _follow(replica: Replica, door: TelegramDoor) -> asyncio.Task[None]:
    """The once-only jobs run where the replica leads; losing this process's place among
    its peers (see bot/replicas.py) stops the door."""
    replica.run_once(lambda stop: maintenance(door.app, stop))

    async def watch() -> None:
        await replica.lost.wait()
        log.error("stopping: this process lost its place among the replicas")
        door.stopping.set()

    return asyncio.create_task(watch())


async def polling(app: App, runtime: str, replica: Replica) -> int:
    transport = make_transport(app, runtime)
    settings = app.settings
    throttle = make_throttle(settings.redis_url, settings.flood_rate, settings.flood_burst)
    door = TelegramDoor(app, transport, throttle)
    install_signal_handlers(door.stopping)
    runner: web.AppRunner | None = None
    watch = _follow(replica, door)
    try:
        await door.prepare()
        if settings.health_listen:
            runner = web.AppRunner(door.web_app())
            await runner.setup()
            await web.TCPSite(runner, *_split(settings.health_listen)).start()
        await door.poll()
        log.info("stopped polling; the updates in hand were finished")
    finally:
        watch.cancel()
        if runner is not None:
            await runner.cleanup()
        await door.throttle.close()
        await transport.close()
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
    transport = make_transport(app, runtime)
    throttle = make_throttle(settings.redis_url, settings.flood_rate, settings.flood_burst)
    door = TelegramDoor(app, transport, throttle)
    install_signal_handlers(door.stopping)
    secret = settings.webhook_secret.get_secret_value()
    runner = web.AppRunner(
        door.web_app(webhook_path(settings.webhook_url), secret), shutdown_timeout=30
    )
    watch = _follow(replica, door)
    try:
        await door.prepare()
        await runner.setup()
        await web.TCPSite(runner, *_split(settings.webhook_listen)).start()
        await door.call(lambda: transport.set_webhook(settings.webhook_url or "", secret))
        log.info("webhook listening on %s", settings.webhook_listen)
        await door.stopping.wait()
    finally:
        await runner.cleanup()  # lets the requests in hand finish
        watch.cancel()
        await door.throttle.close()
        await transport.close()
    return 0
