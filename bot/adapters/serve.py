"""Start the bot in Telegram: long polling or a webhook, with either runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.adapters.outbox import deliver_forever
from bot.adapters.telegram import TelegramDoor, Transport, install_signal_handlers, webhook_path
from bot.app import App
from bot.scheduler import start_maintenance
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


@contextlib.asynccontextmanager
async def beside(app: App, door: TelegramDoor) -> AsyncIterator[None]:
    """What runs beside the Telegram door: the outbox (replies written in the back office)
    and, when ADMIN_LISTEN is set, the back office itself."""
    tasks = [asyncio.create_task(deliver_forever(app.db, _sender(door), door.stopping))]
    if app.settings.admin_listen:
        from bot.backoffice.serve import run

        tasks.append(asyncio.create_task(run(app, app.settings.admin_listen, door.stopping)))
    try:
        yield
    finally:
        door.stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _sender(door: TelegramDoor) -> Callable[[int, str], Awaitable[None]]:
    async def send(chat_id: int, text: str) -> None:
        if not await door.sender.is_blocked(chat_id):
            await door.sender.send_text(chat_id, text, ())

    return send


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


async def polling(app: App, runtime: str) -> int:
    transport = make_transport(app, runtime)
    settings = app.settings
    throttle = make_throttle(settings.redis_url, settings.flood_rate, settings.flood_burst)
    door = TelegramDoor(app, transport, throttle)
    install_signal_handlers(door.stopping)
    runner: web.AppRunner | None = None
    scheduler = start_maintenance(app)
    try:
        await door.prepare()
        if settings.health_listen:
            runner = web.AppRunner(door.web_app())
            await runner.setup()
            await web.TCPSite(runner, *_split(settings.health_listen)).start()
        async with beside(app, door):
            await door.poll()
        log.info("stopped polling; the updates in hand were finished")
    finally:
        scheduler.shutdown(wait=False)
        if runner is not None:
            await runner.cleanup()
        await door.throttle.close()
        await transport.close()
    return 0


async def webhook(app: App, runtime: str) -> int:
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
    scheduler = start_maintenance(app)
    try:
        await door.prepare()
        await runner.setup()
        await web.TCPSite(runner, *_split(settings.webhook_listen)).start()
        await door.call(lambda: transport.set_webhook(settings.webhook_url or "", secret))
        log.info("webhook listening on %s", settings.webhook_listen)
        async with beside(app, door):
            await door.stopping.wait()
    finally:
        await runner.cleanup()  # lets the requests in hand finish
        scheduler.shutdown(wait=False)
        await door.throttle.close()
        await transport.close()
    return 0
