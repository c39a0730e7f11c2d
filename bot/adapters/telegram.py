"""The Telegram door, shared by both runtimes (aiogram and python-telegram-bot).

A runtime is a `Transport`: the library's Bot API client and update types, turned into a
few neutral calls. Everything about *how* kierto-bot lives in Telegram is here, once:

- long polling that confirms an update (the next getUpdates offset) only after its writes
  have been committed, so a crash or restart loses no update (at worst a reply not yet
  sent); redeliveries are skipped by the engine. Replies are sent, and slow ones (charts,
  PDFs) rendered, while the next batch is fetched, so one slow reply does not hold up
  everyone else;
- updates of one user handled in order (the next starts when the previous one's replies
  are out), different users concurrently;
- the webhook: Telegram's secret-token header checked before anything is parsed;
- flood control, every button press answered, Telegram's limits applied to each message;
- 429 waits `retry_after`; 5xx and network errors are retried with backoff; 403 marks the
  user blocked and nothing more is sent to them; polling survives an API outage;
- SIGTERM finishes the updates in hand before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import text as sql

from bot.adapters.render import CAPTION_LIMIT, plain, split_html, visible_length, wrap_rows
from bot.app import App
from bot.throttle import SendRate, Throttle, Verdict
from dialogs.actions import Action, Edit, Keyboard, Send, SendFile, Toast
from dialogs.events import Button, Command, Event, Media, ReplyTo, Sender, Text, parse_command

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
POLL_TIMEOUT = 25  # seconds a getUpdates long poll waits for news
MAX_ATTEMPTS = 6
MAX_IN_HAND = 1000  # updates being finished before polling waits for some to end
T = TypeVar("T")


class ApiError(Exception):
    """A Bot API call failed; `kind` says what the door should do about it."""

    def __init__(self, kind: str, description: str = "", retry_after: float | None = None):
        super().__init__(f"{kind}: {description}")
        self.kind = kind  # retry | blocked | server | network | not_modified | not_found | bad
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class Incoming:
    """One update as the engine sees it, plus what only the door needs."""

    update_id: int
    event: Event | None  # None: nothing for the engine (an unsupported kind of update)
    callback_id: str | None = None


# ---------------------------------------------------------------------- updates to events
# aiogram's and python-telegram-bot's update objects use the Bot API's own field names, so
# one translation serves both.

MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "animation",
    "audio",
    "document",
    "location",
    "contact",
    "poll",
    "dice",
    "venue",
)


def _reply_to(message: Any, bot_id: int) -> ReplyTo | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    author = replied.from_user
    return ReplyTo(
        replied.message_id,
        replied.text or replied.caption or "",
        from_bot=author is not None and author.id == bot_id,
    )


def message_event(message: Any, update_id: int, bot_id: int) -> Event | None:
    author = message.from_user
    if author is None or author.is_bot:
        return None
    sender = Sender(author.id, message.chat.id, author.language_code, str(message.chat.type))
    if message.text is not None:
        reply_to = _reply_to(message, bot_id)
        command = parse_command(message.text)
        if command is not None:
            return Event(sender, Command(command.name, command.args, reply_to), update_id)
        return Event(sender, Text(message.text, reply_to), update_id)
    kind = next((k for k in MEDIA_KINDS if getattr(message, k, None)), None)
    return Event(sender, Media(kind), update_id) if kind else None


def incoming(update: Any, bot_id: int) -> Incoming:
    """A library's Update as the engine's Event (plus the callback id to answer)."""
    if update.message is not None:
        return Incoming(update.update_id, message_event(update.message, update.update_id, bot_id))
    query = update.callback_query
    if query is None:
        return Incoming(update.update_id, None)
    if query.data is None:
        return Incoming(update.update_id, None, query.id)
    chat = query.message.chat if query.message is not None else None
    sender = Sender(
        query.from_user.id,
        chat.id if chat else query.from_user.id,
        query.from_user.language_code,
        str(chat.type) if chat else "private",
    )
    message_id = query.message.message_id if query.message is not None else None
    return Incoming(
        update.update_id,
        Event(sender, Button(str(query.data), message_id), update.update_id),
        query.id,
    )


class Transport(Protocol):
    """What a Telegram library must provide (see aiogram_runtime and ptb_runtime)."""

    name: str
    bot_id: int
    username: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def get_updates(
        self, offset: int | None, wait: int, limit: int = 100
    ) -> Sequence[Any]: ...
    def parse_update(self, data: dict[str, Any]) -> Any: ...
    def incoming(self, update: Any) -> Incoming: ...
    async def send_text(
        self, chat_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> int: ...
    async def edit_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard, html: bool = True
    ) -> None: ...
    async def send_file(
        self, chat_id: int, kind: str, data: bytes, filename: str, caption: str
    ) -> int: ...
    async def answer_callback(self, callback_id: str, text: str, alert: bool) -> None: ...
    async def set_commands(
        self, commands: list[tuple[str, str]], chat_id: int | None, language: str | None
    ) -> None: ...
    async def delete_webhook(self) -> None: ...
    async def set_webhook(self, url: str, secret: str) -> None: ...


class TelegramDoor:
    def __init__(
        self, app: App, transport: Transport, throttle: Throttle, send_rate: SendRate | None = None
    ) -> None:
        self.app = app
        self.transport = transport
        self.throttle = throttle
        self.send_rate = send_rate or SendRate(app.settings.send_rate)
        self.stopping = asyncio.Event()
        self.in_hand = 0  # updates being handled right now
        self.finishing: set[asyncio.Task[None]] = set()  # polled updates still in hand
        self._last_of_user: dict[int, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ one update

    async def handle(
        self,
        update: Any,
        parsed: Incoming | None = None,
        committed: Callable[[], None] | None = None,
    ) -> None:
        """Handle one update completely; never raises. `committed` is called once its
        writes are committed (see `Engine.handle`)."""
        self.in_hand += 1
        try:
            await self._handle(parsed or self.transport.incoming(update), committed)
        except Exception:
            log.exception("could not handle an update")
        finally:
            self.in_hand -= 1

    async def _handle(
        self, incoming: Incoming, committed: Callable[[], None] | None = None
    ) -> None:
        event = incoming.event
        if event is None:
            if incoming.callback_id:
                await self._answer(incoming.callback_id, "", False)
            return
        staff_chat = event.chat_id == self.app.settings.staff_chat_id
        verdict = Verdict.ALLOW if staff_chat else await self.throttle.check(event.user_id)
        if verdict is not Verdict.ALLOW:
            log.info("flood control: user update %s %s", incoming.update_id, verdict.name)
            if verdict is Verdict.NOTIFY:
                t = self.app.i18n(self.app.i18n.pick(event.sender.language_code))
                await self._send_text(
                    event.chat_id,
                    t._(
                        "🐢 You are sending messages faster than I can read them, so I skipped "
                        "some. Please wait a moment, then continue."
                    ),
                    (),
                )
            if incoming.callback_id:
                await self._answer(incoming.callback_id, "", False)
            return
        actions = await self.app.engine.handle(event, committed)
        await self.render(event.chat_id, actions, incoming.callback_id)

    async def render(self, chat_id: int, actions: list[Action], callback_id: str | None) -> None:
        toast = next((a for a in actions if isinstance(a, Toast)), None)
        answered = False
        try:
            if callback_id and toast is not None:
                # answer the press at once, before slower sends
                await self._answer(callback_id, toast.text, toast.alert)
                answered = True
            for action in actions:
                if isinstance(action, Toast):
                    continue
                if action.chat_id != chat_id and await self._is_blocked(action.chat_id):
                    continue  # e.g. a staff reply to someone who has blocked the bot
                try:
                    if isinstance(action, Send):
                        await self._send_text(action.chat_id, action.text, action.keyboard)
                    elif isinstance(action, Edit):
                        await self._edit(action)
                    else:
                        await self._send_file(action)
                except ApiError as exc:  # one refused message must not cost the others
                    log.error(
                        "a %s to chat %s failed: %s",
                        type(action).__name__,
                        action.chat_id,
                        exc.kind,
                    )
        finally:
            if callback_id and not answered:
                await self._answer(callback_id, "", False)

    # ------------------------------------------------------------------ sending

    async def call(
        self, what: Callable[[], Awaitable[T]], chat_id: int | None = None, limited: bool = True
    ) -> T | None:
        """Call the Bot API with Telegram's rules for failures (see the module docstring)."""
        for attempt in range(MAX_ATTEMPTS):
            if limited:
                await self.send_rate.acquire()
            try:
                return await what()
            except ApiError as exc:
                if exc.kind == "retry":
                    delay = exc.retry_after or 1.0
                    log.warning("Telegram asked to wait %.1f s (429)", delay)
                elif exc.kind in ("server", "network"):
                    delay = min(0.5 * 2**attempt, 8.0)
                    log.warning("Telegram API %s error; retrying in %.1f s", exc.kind, delay)
                elif exc.kind == "blocked":
                    if chat_id is not None:
                        await self._mark_blocked(chat_id)
                    return None
                elif exc.kind == "not_modified":
                    return None  # the message already shows this: success
                else:
                    raise
                await asyncio.sleep(delay)
        log.error("Telegram API call failed %d times; giving up", MAX_ATTEMPTS)
        return None

    async def _mark_blocked(self, chat_id: int) -> None:
        if chat_id < 0:
            log.error("the bot cannot post to group %s (removed or muted?)", chat_id)
            return
        log.info("user %s has blocked the bot; not sending to them any more", chat_id)
        async with self.app.db.unit() as repo:
            await repo.users.set_blocked(chat_id)

    async def _is_blocked(self, chat_id: int) -> bool:
        if chat_id < 0:
            return False
        async with self.app.db.unit() as repo:
            user = await repo.users.get(chat_id)
            return bool(user and user.blocked)

    async def _send_text(self, chat_id: int, text: str, keyboard: Keyboard) -> None:
        keyboard = wrap_rows(keyboard)
        parts = split_html(text)
        for index, part in enumerate(parts):
            markup = keyboard if index == len(parts) - 1 else ()
            try:
                await self.call(
                    lambda p=part, m=markup: self.transport.send_text(chat_id, p, m), chat_id
                )
            except ApiError as exc:
                if exc.kind != "bad":
                    raise
                # Telegram refused our HTML: never lose the message, send it plain
                log.error(
                    "Telegram refused a message (%s); sending it as plain text", exc.description
                )
                await self.call(
                    lambda p=part, m=markup: self.transport.send_text(
                        chat_id, plain(p), m, html=False
                    ),
                    chat_id,
                )

    async def _edit(self, action: Edit) -> None:
        parts = split_html(action.text)
        if len(parts) > 1:
            await self._send_text(action.chat_id, action.text, action.keyboard)
            return
        try:
            await self.call(
                lambda: self.transport.edit_text(
                    action.chat_id, action.message_id, action.text, wrap_rows(action.keyboard)
                ),
                action.chat_id,
            )
        except ApiError as exc:
            if exc.kind not in ("not_found", "bad"):
                raise
            # too old to edit, or gone: show the new state as a new message instead
            await self._send_text(action.chat_id, action.text, action.keyboard)

    async def _send_file(self, action: SendFile) -> None:
        caption, rest = action.caption, ""
        if visible_length(caption) > CAPTION_LIMIT:
            pieces = split_html(caption, CAPTION_LIMIT)
            caption, rest = pieces[0], "\n\n".join(pieces[1:])
        await self.call(
            lambda: self.transport.send_file(
                action.chat_id, action.kind, action.data, action.filename, caption
            ),
            action.chat_id,
        )
        if rest:
            await self._send_text(action.chat_id, rest, ())

    async def _answer(self, callback_id: str, text: str, alert: bool) -> None:
        try:
            await self.call(
                lambda: self.transport.answer_callback(callback_id, text[:200], alert),
                limited=False,
            )
        except ApiError as exc:  # a press too old to answer: nothing to do
            log.info("could not answer a button press: %s", exc.description)

    # ------------------------------------------------------------------ start

    async def prepare(self) -> None:
        """Identify the bot (waiting out an API outage) and set the command menus."""
        delay = 1.0
        while True:
            try:
                await self.transport.start()
                break
            except ApiError as exc:
                if exc.kind not in ("server", "network", "retry"):
                    raise
                log.warning("Bot API not reachable (%s); retrying in %.0f s", exc.kind, delay)
                await asyncio.sleep(exc.retry_after or delay)
                delay = min(delay * 2, 30.0)
        log.info("running as @%s with the %s runtime", self.transport.username, self.transport.name)
        try:
            await self.set_menus()
        except ApiError as exc:
            log.error("could not set the command menus: %s", exc)

    async def set_menus(self) -> None:
        """Show Telegram the command menus the engine defines (per language, and per chat
        for staff)."""
        async with self.app.db.unit() as repo:
            menus = await self.app.engine.command_menus(repo)
        for menu in menus:
            await self.call(
                lambda m=menu: self.transport.set_commands(list(m.commands), m.chat_id, m.language)
            )

    # ------------------------------------------------------------------ polling

    async def poll(self) -> None:
        """Long polling until `stopping` is set; an update's offset is confirmed only after
        the update (and the whole batch it came in) has been handled."""
        await self.call(self.transport.delete_webhook, limited=False)  # keeps pending updates
        offset: int | None = None
        delay = 1.0
        while not self.stopping.is_set():
            while len(self.finishing) >= MAX_IN_HAND:  # sending is stuck (say, 429s)
                await asyncio.wait(self.finishing, return_when=asyncio.FIRST_COMPLETED)
            fetch = asyncio.ensure_future(self.transport.get_updates(offset, POLL_TIMEOUT))
            stop = asyncio.ensure_future(self.stopping.wait())
            done, _ = await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if fetch not in done:
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, ApiError):
                    await fetch
                break
            try:
                updates = fetch.result()
            except ApiError as exc:
                wait = exc.retry_after or delay
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc.kind, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), wait)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if not updates:
                continue
            await self.handle_batch(updates)
            offset = max(u.update_id for u in updates) + 1
        if self.finishing:
            await asyncio.wait(self.finishing)  # SIGTERM: finish the updates in hand
        if offset is not None:  # confirm the last batch so a restart does not fetch it again
            with contextlib.suppress(ApiError):
                await self.transport.get_updates(offset, 0, limit=1)

    async def handle_batch(self, updates: Sequence[Any]) -> None:
        """Start every update of a polled batch and return when each one's writes are
        committed. Their replies may still be on the way (tracked in `finishing`); that is
        safe to confirm, because a redelivered update whose writes were committed is skipped
        by the engine and would not be answered again either way. Each user's updates
        run strictly one after the other, across batches too; different users side by
        side."""
        committed: list[asyncio.Event] = []
        for update in updates:
            parsed = self.transport.incoming(update)
            user = parsed.event.user_id if parsed.event else 0
            done = asyncio.Event()
            committed.append(done)
            task = asyncio.create_task(
                self._in_turn(self._last_of_user.get(user), update, parsed, done)
            )
            self._last_of_user[user] = task
            self.finishing.add(task)
            task.add_done_callback(lambda t, u=user: self._finished(t, u))
        await asyncio.gather(*(done.wait() for done in committed))

    async def _in_turn(
        self,
        previous: asyncio.Task[None] | None,
        update: Any,
        parsed: Incoming,
        committed: asyncio.Event,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait({previous})  # the same user's earlier update first
            await self.handle(update, parsed, committed.set)
        finally:
            committed.set()

    def _finished(self, task: asyncio.Task[None], user: int) -> None:
        self.finishing.discard(task)
        if self._last_of_user.get(user) is task:
            del self._last_of_user[user]

    # ------------------------------------------------------------------ web

    def web_app(
        self, webhook_path: str | None = None, secret: str | None = None
    ) -> web.Application:
        app = web.Application(client_max_size=1024**2)
        app.router.add_get("/healthz", self._health)
        if webhook_path is not None:
            expected = (secret or "").encode()

            async def webhook(request: web.Request) -> web.Response:
                given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
                if not expected or not hmac.compare_digest(given, expected):
                    log.warning("webhook request without the right secret token refused")
                    return web.Response(status=401, text="unauthorized")
                try:
                    update = self.transport.parse_update(await request.json())
                except Exception:  # not JSON, or not an update
                    return web.Response(status=400, text="bad update")
                await self.handle(update)
                return web.Response(text="ok")

            app.router.add_post(webhook_path, webhook)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(3), self.app.db.engine.connect() as conn:
                await conn.execute(sql("SELECT 1"))
            database = "ok"
        except Exception as exc:  # any failure means unhealthy
            database = type(exc).__name__
        healthy = database == "ok"
        return web.json_response(
            {
                "status": "ok" if healthy else "unhealthy",
                "database": database,
                "runtime": self.transport.name,
                "updates_in_hand": self.in_hand,
            },
            status=200 if healthy else 503,
        )


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
