"""The engine: `await engine.handle(event) -> list[Action]`, the same for every door.

For each event:

    1. take the user's lock (two updates of one user never run a step concurrently);
    2. open one unit of work; an update id seen before ends here with no actions;
    3. load (or create, on first contact) the user and the dialog state;
    4. route: command -> its handler; button -> its flow step (if current) or global
       handler; text -> the open flow step, else the free-text fallback (the FAQ);
    5. commit; only then are the actions returned for the door to render.

A failure inside a step rolls the whole unit back and the user gets a short apology; what
they were earlier told was saved stays saved. The database being unreachable is not a
failure of a step: `StoreUnavailable` is raised, with no apology, and the door leaves the
update unconfirmed so it is handled when the database is back.

With `outbox=True` (the Telegram doors) the replies are written to the outbox in the same
transaction as the step's writes (`dialogs.store.outbox`): a committed update's replies
survive the process. Each returned action names its row (`outbox_id`); a piece made
after the commit (a chart, a PDF) has a marker row holding a translated fallback text,
sent instead if the process stops before the piece is made. Toasts are not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from dialogs.actions import Action, Send, Toast
from dialogs.events import MAX_TEXT, Button, Command, Event, Media, Text, clean_event
from dialogs.flow import Flow, Step, load_data
from dialogs.payload import Payload, prefix_of
from dialogs.router import CommandInfo, Context, Deferred, Handler, Router, Services
from dialogs.store.db import Database, StoreUnavailable, is_connection_error
from dialogs.store.models import utcnow
from dialogs.store.outbox import deferred_marker, encode
from dialogs.store.repo import Repository
from knowledge.loader import Knowledge
from locales.i18n import LANGS, I18n, Translator

log = logging.getLogger(__name__)
LAST_SEEN_PRECISION = timedelta(minutes=10)


@dataclass(frozen=True)
class Menu:
    """A command menu: for a chat (None: everyone) in a language (None: any other)."""

    chat_id: int | None
    language: str | None
    commands: tuple[tuple[str, str], ...]


def command_list(
    t: Translator, info: Sequence[CommandInfo], staff: bool, everyone: bool = True
) -> tuple[tuple[str, str], ...]:
    items = [
        c
        for c in info
        if (everyone and c.role is None) or (staff and c.role in ("staff", "coordinator"))
    ]
    # everyone's commands first, then the staff's, each in the order they were registered
    items.sort(key=lambda c: c.role is not None)
    return tuple((c.name, t._(c.help)[:256]) for c in items)


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Engine:
    def __init__(
        self,
        db: Database,
        kb: Knowledge,
        i18n: I18n,
        services: Services,
        routers: Sequence[Router],
        *,
        outbox: bool = False,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.kb = kb
        self.i18n = i18n
        self.services = services
        self.locks = KeyedLocks()
        self.commands: dict[str, tuple[Handler, str | None]] = {}
        self.command_info: list[CommandInfo] = []
        self.buttons: dict[str, tuple[type[Payload], Handler]] = {}
        self.flow_by_prefix: dict[str, Flow] = {}
        self.flows: dict[str, Flow] = {}
        self.deeplinks: list[Callable[[Context, str], Awaitable[bool]]] = []
        self.hooks: dict[str, Handler] = {}
        for router in routers:
            clash = set(router.commands) & set(self.commands)
            clash |= set(router.hooks) & set(self.hooks)
            clash |= (set(router.flows) | set(router.buttons)) & (
                set(self.flow_by_prefix) | set(self.buttons)
            )
            if clash:
                raise ValueError(f"{router.name}: registered twice: {sorted(clash)}")
            self.commands.update(router.commands)
            self.command_info += router.help
            self.buttons.update(router.buttons)
            self.flow_by_prefix.update(router.flows)
            self.deeplinks += router.deeplinks
            self.hooks.update(router.hooks)
        self.flows = {flow.name: flow for flow in self.flow_by_prefix.values()}

    def flow_named(self, name: str | None) -> Flow | None:
        return self.flows.get(name or "")

    # ------------------------------------------------------------------ entry point

    async def handle(
        self, event: Event, committed: Callable[[], None] | None = None
    ) -> list[Action]:
        """Handle one event in one unit of work and return what to show.

        `committed`, if given, is called as soon as the event's writes are committed (or
        it turned out to need none), before slower rendering such as charts: from then on
        a redelivery of the event changes nothing, so a door may confirm it."""
        staff_chat = event.chat_id == self.services.staff_chat_id
        if not event.sender.is_private and not staff_chat:
            return []  # silent in groups, except the staff chat
        event = clean_event(event)  # every door: no NUL or other control characters
        async with self.locks.hold(event.user_id):
            try:
                async with self.db.unit() as repo:
                    new = event.update_id is None or await repo.updates.mark(
                        event.update_id, user_id=event.user_id
                    )
                    if not new:
                        log.info("update %s seen before; skipped", event.update_id)
                        return []
                    ctx = await self._context(repo, event)
                    if staff_chat and not event.sender.is_private:
                        await self._staff_chat(ctx)
                    else:
                        await self._dispatch(ctx)
                    markers: dict[int, tuple[int, str]] = {}
                    if self.outbox:
                        markers = await self._queue(ctx)
                if committed is not None:
                    committed()
                return await self._after_commit(ctx.actions, markers, event.chat_id)
            except Exception as exc:
                if is_connection_error(exc):
                    log.warning(
                        "database unreachable while handling update %s (%s); not confirmed",
                        event.update_id,
                        type(exc).__name__,
                    )
                    raise StoreUnavailable(type(exc).__name__) from exc
                # the type and where, never the message: it may quote what the user wrote
                log.error(
                    "handling update %s of a %s failed: %s\n%s",
                    event.update_id,
                    type(event.body).__name__,
                    type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                t = self.i18n(self.i18n.pick(event.sender.language_code))
                sorry = t._(
                    "Sorry, something went wrong on my side. What you saved earlier "
                    "is safe. Please try again in a moment."
                )
                actions: list[Action] = [Send(event.chat_id, sorry)]
                if isinstance(event.body, Button):
                    actions.insert(0, Toast())
                return actions

    async def _queue(self, ctx: Context) -> dict[int, tuple[int, str]]:
        """Write the event's messages to the outbox (inside its transaction, with the dialog
        state: `Repository.finish`) and name each action's row. Returns
        {id(deferred): (marker row id, fallback text)}."""
        event = ctx.event
        rows: list[tuple[int, dict[str, Any], int | None]] = []
        fallbacks: dict[int, str] = {}
        for action in ctx.actions:
            if isinstance(action, Toast):
                continue
            if isinstance(action, Deferred):
                fallback = ctx._(
                    "Sorry, I could not finish the file I was making for you. "
                    "Please press the button again."
                )
                fallbacks[id(action)] = fallback
                rows.append((event.chat_id, deferred_marker(fallback), ctx.user.id))
            else:
                # whom it is for or about: the person in a private chat; in a group (the
                # staff chat) a new post is about the person whose event produced it
                about = action.chat_id if action.chat_id > 0 else None
                if about is None and isinstance(action, Send):
                    about = ctx.user.id
                rows.append((action.chat_id, encode(action), about))
        ids = iter(await ctx.repo.finish(rows))
        markers: dict[int, tuple[int, str]] = {}
        queued: list[Action | Deferred] = []
        for action in ctx.actions:
            if isinstance(action, Toast):
                queued.append(action)
            elif isinstance(action, Deferred):
                markers[id(action)] = (next(ids), fallbacks[id(action)])
                queued.append(action)
            else:
                queued.append(replace(action, outbox_id=next(ids)))
        ctx.actions = queued
        return markers

    async def _after_commit(
        self,
        actions: list[Action | Deferred],
        markers: dict[int, tuple[int, str]],
        chat_id: int,
    ) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if not isinstance(action, Deferred):
                out.append(action)
                continue
            row, fallback = markers.get(id(action), (None, ""))
            try:
                made = await action.make()
            except Exception:  # what was committed stays; only this piece is missing
                log.exception("deferred rendering failed")
                if row is not None:  # the marker's fallback text instead
                    out.append(Send(chat_id, fallback, outbox_id=row))
                continue
            if row is not None and made:
                made[-1] = replace(made[-1], outbox_id=row)  # its row is done with the last
            elif row is not None:
                async with self.db.unit() as repo:  # nothing to send after all
                    await repo.outbox.sent(row, None)
            out.extend(made)
        return out

    async def _context(self, repo, event: Event) -> Context:
        lang = self.i18n.pick(event.sender.language_code)
        user, state, created = await repo.users.lock_with_state(event.user_id, lang)
        if not user.locale_chosen and event.sender.language_code and user.locale != lang:
            user.locale = lang
        if utcnow() - user.last_seen_at > LAST_SEEN_PRECISION:  # not a write every event
            user.last_seen_at = utcnow()
        if user.blocked:
            user.blocked = False  # they wrote to us again, so they unblocked the bot
        if state is None:  # first contact (or a state erased meanwhile)
            state = await repo.states.get(user.id)
        in_staff_chat = event.chat_id == self.services.staff_chat_id and not event.sender.is_private
        # in the staff chat everyone reads one language, the programme's default
        t = self.i18n(self.i18n.default if in_staff_chat else user.locale)
        return Context(
            event=event,
            user=user,
            state=state,
            repo=repo,
            t=t,
            kb=self.kb,
            services=self.services,
            _engine=self,
            first_contact=created,
        )

    async def command_menus(self, repo: Repository) -> list[Menu]:
        """The command menus Telegram should show: one per language for everyone, a wider
        one in the chats of staff and coordinators (each in their language), and the staff
        commands in the staff chat. The commands still check roles when they run."""
        default = self.i18n.default
        info = self.command_info
        menus = [Menu(None, None, command_list(self.i18n(default), info, staff=False))]
        menus += [
            Menu(None, lang, command_list(self.i18n(lang), info, staff=False)) for lang in LANGS
        ]
        staff = {
            u.id: u.locale
            for role in ("staff", "coordinator")
            for u in await repo.users.with_role(role)
        }
        for admin in self.services.admin_ids:
            user = await repo.users.get(admin)
            staff[admin] = user.locale if user else default
        menus += [
            Menu(user_id, None, command_list(self.i18n(lang), info, staff=True))
            for user_id, lang in staff.items()
        ]
        if self.services.staff_chat_id is not None:
            menus.append(
                Menu(
                    self.services.staff_chat_id,
                    None,
                    command_list(self.i18n(default), info, staff=True, everyone=False),
                )
            )
        return menus

    # ------------------------------------------------------------------ routing

    async def _dispatch(self, ctx: Context) -> None:
        body = ctx.event.body
        if ctx.first_contact and not (isinstance(body, Command) and body.name == "start"):
            await self.run_command(ctx, "start", "")
            if not isinstance(body, Command | Text):
                return  # a first button or sticker: the greeting is the answer
        if isinstance(body, Command):
            await self.run_command(ctx, body.name, body.args)
        elif isinstance(body, Button):
            await self._button(ctx, body)
        elif isinstance(body, Text):
            await self._text(ctx, body.text)
        elif isinstance(body, Media):
            ctx.send(
                ctx._(
                    "I can only read text and button presses, not photos, stickers, "
                    "voice or files. Please type your message or use the buttons."
                )
            )
            await self.show_current(ctx)

    async def run_command(self, ctx: Context, name: str, args: str) -> None:
        entry = self.commands.get(name)
        if entry is None:
            ctx.send(
                ctx._(
                    "I don't know the command /{name}. /help lists what I can do.", name=name[:32]
                )
            )
            return
        handler, role = entry
        if role is not None and not ctx.has_role(role):
            ctx.send(
                ctx._(
                    "That command is for the programme's staff. /help lists what I can do for you."
                )
            )
            return
        await handler(ctx, args)

    async def _button(self, ctx: Context, body: Button) -> None:
        prefix = prefix_of(body.payload)
        flow = self.flow_by_prefix.get(prefix)
        if flow is not None:
            await self._flow_button(ctx, flow, body.payload)
            return
        kind, handler = self.buttons.get(prefix, (None, None))
        payload = kind.parse(body.payload) if kind is not None else None
        if payload is None or handler is None:
            ctx.invalid_button()
            return
        await handler(ctx, payload)

    async def _flow_button(self, ctx: Context, flow: Flow, raw: str) -> None:
        payload = flow.Payload.parse(raw)
        if payload is None:
            ctx.invalid_button()
            return
        if ctx.state.flow != flow.name:
            await self._stale(ctx)
            return
        here = self._step(ctx, flow)
        if here is None:
            ctx.toast()
            await self._restart(ctx, flow)
            return
        step, data = here
        if step.node_of(data) != payload.node:
            await self._stale(ctx)
            return
        found = step.handler(payload.value)
        if found is None:
            ctx.invalid_button()
            return
        handler, value = found
        ctx.toast()
        await handler(ctx, data, value)

    @staticmethod
    def _step(ctx: Context, flow: Flow) -> tuple[Step, object] | None:
        """The user's step of `flow` and its data, or None if the stored state no longer
        fits the flow (saved by older code, a step since removed)."""
        step = flow.table.get(ctx.state.step)
        data = load_data(flow.Data, ctx.state.data)
        if step is None or data is None:
            return None
        return step, data

    async def _restart(self, ctx: Context, flow: Flow) -> None:
        """A stored state that no longer fits: start the flow again instead of failing.
        What was saved in tables (answers, companies) is kept; `begin` finds it."""
        log.warning(
            "state of flow %s at step %r no longer fits; restarted", flow.name, ctx.state.step
        )
        ctx.go(None)
        await flow.begin(ctx)

    async def cancel_flow(self, ctx: Context) -> bool:
        flow = self.flow_named(ctx.state.flow)
        if flow is None:
            return False
        here = self._step(ctx, flow)
        if here is not None:
            await flow.on_cancel(ctx, here[1])
        ctx.go(None)
        return True

    async def _stale(self, ctx: Context) -> None:
        """A press for a step that is not the current one."""
        if await self._reply_missing(ctx, getattr(ctx.event.body, "message_id", None)):
            # the press is on the newest message they have: the step that followed never
            # reached them (lost, or still on its way). Show it (again), no dead end.
            ctx.toast()
            await self.show_current(ctx)
            return
        ctx.toast(ctx._("That button belongs to an earlier step. Please use the latest message."))

    async def _reply_missing(self, ctx: Context, message_id: int | None) -> bool:
        """Did the step that followed never reach them? True when the chat's newest queued
        message was not delivered (lost at a crash, failed, or still waiting) and the press
        is on the newest message that was. Only with an outbox, which records that."""
        if not self.outbox or message_id is None or ctx.state.flow is None:
            return False
        delivered = await ctx.repo.outbox.missing_since(ctx.event.chat_id)
        return delivered is not None and message_id >= delivered

    async def _text(self, ctx: Context, text: str) -> None:
        if len(text) > MAX_TEXT:
            ctx.send(
                ctx.n_(
                    "That message is too long for me: please keep it under {n} character.",
                    "That message is too long for me: please keep it under {n} characters.",
                    MAX_TEXT,
                )
            )
            return
        if not text.strip():
            ctx.send(ctx._("That message was empty. Type something, or use the buttons."))
            await self.show_current(ctx)
            return
        flow = self.flow_named(ctx.state.flow)
        if flow is None:
            await ctx.answer_text(text)
            return
        here = self._step(ctx, flow)
        if here is None:
            await self._restart(ctx, flow)
            return
        step, data = here
        if step.text is not None and await step.text(ctx, data, text):
            return
        aside = self.hooks.get("aside")
        if aside is not None and await aside(ctx, text):
            await step.show(ctx, data)  # the open question again, below the answer
            return
        ctx.send(
            ctx._(
                "Please answer with the buttons below the question. To ask me "
                "something else, type /ask and your question, or /cancel to stop."
            )
        )
        await step.show(ctx, data)

    async def show_current(self, ctx: Context) -> None:
        """Show the open step again, if there is one."""
        flow = self.flow_named(ctx.state.flow)
        if flow is None:
            return
        here = self._step(ctx, flow)
        if here is None:
            await self._restart(ctx, flow)
            return
        step, data = here
        await step.show(ctx, data)

    async def _staff_chat(self, ctx: Context) -> None:
        """In the staff chat: staff commands and replies to the bot's ticket messages."""
        body = ctx.event.body
        if isinstance(body, Command) and body.name in self.commands:
            handler, role = self.commands[body.name]
            # Members of the staff chat are staff; other roles are still checked.
            if role == "staff" or (role is not None and ctx.has_role(role)):
                await handler(ctx, body.args)
                return
        reply_to = getattr(body, "reply_to", None)
        staff_reply = self.hooks.get("staff_reply")
        if reply_to is not None and reply_to.from_bot and staff_reply is not None:
            text = body.text if isinstance(body, Text) else ""
            if text.strip():
                await staff_reply(ctx, text, reply_to)
