"""The Telegram door: one update from the runtime to the engine and back to the user.

`TelegramDoor` ties the parts together: flood control and every button press answered
(here), the Bot API rules for sending (`sender`), long polling in per-user order
(`polling`), the webhook and health check (`web`), and its own count of the work in hand
(`progress`), which `settled()` exposes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import text as sql

from bot.adapters.telegram.errors import ApiError, ApiErrorKind
from bot.adapters.telegram.order import EarlierReplies
from bot.adapters.telegram.outbox import OutboxSender
from bot.adapters.telegram.polling import Poller
from bot.adapters.telegram.progress import Progress
from bot.adapters.telegram.sender import Sender
from bot.adapters.telegram.transport import Transport
from bot.adapters.telegram.updates import Incoming
from bot.adapters.telegram.web import Readiness, web_app
from bot.app import App
from bot.throttle import SendRate, Throttle, Verdict
from dialogs.actions import Action, Edit, Send, Toast
from dialogs.store.db import StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
UNREACHABLE = (ApiErrorKind.SERVER, ApiErrorKind.NETWORK, ApiErrorKind.RETRY)


class TelegramDoor:
    def __init__(
        self, app: App, transport: Transport, throttle: Throttle, send_rate: SendRate | None = None
    ) -> None:
        self.app = app
        self.transport = transport
        self.throttle = throttle
        self.sender = Sender(transport, send_rate or SendRate(app.settings.send_rate), app.db)
        self.stopping = asyncio.Event()
        self.readiness = Readiness(self.stopping)  # what /healthz tells the balancer
        self.outbox = OutboxSender(self.sender, app.db, self.stopping)
        app.engine.outbox = True  # replies are queued with the update's writes
        self.progress = Progress()
        # webhook replicas: a redelivery is confirmed only once the chat's earlier replies
        # are out (bot/adapters/telegram/order.py); None when polling
        self.earlier_replies: EarlierReplies | None = None
        self.poller = Poller(
            transport,
            self._handle_update,
            self.progress,
            self.stopping,
            database_back=self.database_back,
            grace=app.settings.shutdown_grace,
            retry_max=app.settings.db_retry_max,
        )

    async def settled(self, through: int | None = None) -> None:
        """Return once every update taken in so far has been handled and its replies sent
        and, with `through`, every update up to that update_id has been taken in."""
        await self.progress.settled(through)

    # ------------------------------------------------------------------ one update

    async def handle(self, update: Any) -> None:
        """Handle one update (from the webhook) completely. Raises only `StoreUnavailable`
        (the database is unreachable: nothing was done, the update must come again)."""
        self.progress.took(update.update_id)
        try:
            await self._handle_update(update, None, None)
        finally:
            self.progress.done()

    async def _handle_update(
        self, update: Any, parsed: Incoming | None, committed: Callable[[], None] | None
    ) -> None:
        """`committed` is called once the update's writes are committed (see
        `Engine.handle`). Raises only `StoreUnavailable`."""
        try:
            await self._handle(parsed or self.transport.incoming(update), committed)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("could not handle an update")

    async def database_back(self) -> bool:
        """Can the database be reached again? (A cheap probe while paused for an outage.)"""
        try:
            async with asyncio.timeout(5), self.app.db.engine.connect() as conn:
                await conn.execute(sql("SELECT 1"))
            return True
        except Exception:  # anything: still not back
            return False

    async def _handle(self, incoming: Incoming, committed: Callable[[], None] | None) -> None:
        event = incoming.event
        if event is None:
            if incoming.callback_id:
                await self.sender.answer(incoming.callback_id, "", False)
            return
        staff_chat = event.chat_id == self.app.settings.staff_chat_id
        verdict = (
            Verdict.ALLOW
            if staff_chat
            else await self.throttle.check(event.user_id, incoming.sent_at)
        )
        if verdict is not Verdict.ALLOW:
            log.info("flood control: user update %s %s", incoming.update_id, verdict.name)
            if verdict is Verdict.NOTIFY:
                t = self.app.i18n(self.app.i18n.pick(event.sender.language_code))
                await self.sender.send_text(
                    event.chat_id,
                    t._(
                        "🐢 You are sending messages faster than I can read them, so I skipped "
                        "some. Please wait a moment, then continue."
                    ),
                    (),
                )
            if incoming.callback_id:
                await self.sender.answer(incoming.callback_id, "", False)
            return
        actions = await self.app.engine.handle(event, committed)
        if not actions and self.earlier_replies is not None and event.chat_id > 0:
            await self.earlier_replies.wait(event.chat_id)  # a redelivery, or silence
        await self.render(event.chat_id, actions, incoming.callback_id)

    async def render(self, chat_id: int, actions: list[Action], callback_id: str | None) -> None:
        """Send what the engine asked for. The press is answered at the same time as the
        replies go out, never before them: a toast is best effort and must not hold the
        reply back. Messages with an outbox row are sent through it (`outbox.deliver`)."""
        toast = next((a for a in actions if isinstance(a, Toast)), None)
        answer: asyncio.Task[None] | None = None
        if callback_id:
            answer = asyncio.create_task(
                self.sender.answer(
                    callback_id, toast.text if toast else "", bool(toast and toast.alert)
                )
            )
        try:
            for action in actions:
                if isinstance(action, Toast):
                    continue
                if action.chat_id != chat_id and await self.sender.is_blocked(action.chat_id):
                    if action.outbox_id is not None:
                        await self.outbox.mark(action.outbox_id, "blocked")
                    continue  # e.g. a staff reply to someone who has blocked the bot
                if action.outbox_id is not None:
                    await self.outbox.deliver(action)
                    continue
                try:
                    if isinstance(action, Send):
                        await self.sender.send_text(action.chat_id, action.text, action.keyboard)
                    elif isinstance(action, Edit):
                        await self.sender.edit(action)
                    else:
                        await self.sender.send_file(action)
                except ApiError as exc:  # one refused message must not cost the others
                    log.error(
                        "a %s to chat %s failed: %s",
                        type(action).__name__,
                        action.chat_id,
                        exc.kind,
                    )
        finally:
            if answer is not None:
                await answer  # bounded by the answer's own timeout

    async def call(
        self, what: Callable[[], Awaitable[T]], chat_id: int | None = None, limited: bool = True
    ) -> T | None:
        """A Bot API call with Telegram's rules for failures (see `sender`)."""
        return await self.sender.call(what, chat_id, limited)

    # ------------------------------------------------------------------ start and run

    async def prepare(self) -> None:
        """Identify the bot (waiting out an API outage) and set the command menus."""
        delay = 1.0
        while True:
            try:
                await self.transport.start()
                break
            except ApiError as exc:
                if exc.kind not in UNREACHABLE:
                    raise
                log.warning("Bot API not reachable (%s); retrying in %.0f s", exc.kind, delay)
                with contextlib.suppress(TimeoutError):  # SIGTERM ends the wait
                    await asyncio.wait_for(self.stopping.wait(), exc.retry_after or delay)
                if self.stopping.is_set():
                    return
                delay = min(delay * 2, 30.0)
        log.info("running as @%s with the %s runtime", self.transport.username, self.transport.name)
        try:
            await self.set_menus()
        except ApiError as exc:
            log.error("could not set the command menus: %s", exc)
        self.readiness.ready()

    async def set_menus(self) -> None:
        """Show Telegram the command menus the engine defines (per language, and per chat
        for staff)."""
        async with self.app.db.unit() as repo:
            menus = await self.app.engine.command_menus(repo)
        for menu in menus:
            await self.call(
                lambda m=menu: self.transport.set_commands(list(m.commands), m.chat_id, m.language)
            )

    async def poll(self) -> None:
        """Long polling until `stopping` is set (see `polling`)."""
        if self.stopping.is_set():
            return  # SIGTERM while waiting for the Bot API at start
        await self.call(self.transport.delete_webhook, limited=False)  # keeps pending updates
        await self.poller.run()

    def web_app(
        self, webhook_path: str | None = None, secret: str | None = None
    ) -> web.Application:
        return web_app(self, webhook_path, secret)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`: the door finishes the updates in hand, then exits."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
