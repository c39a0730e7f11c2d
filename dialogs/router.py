"""Routing pieces shared by the flows: the per-event `Context` and the `Router`.

How a flow is written (the step table, its data, payloads, the Context API) is described
in `dialogs.flow`; the payload codec is `dialogs.payload`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialogs.actions import Action, Edit, Keyboard, Send, SendFile, Toast
from dialogs.events import Event
from dialogs.flow import RESERVED_KEYS, Flow, dump_data
from dialogs.payload import Payload
from dialogs.store.models import DialogState, User, utcnow
from dialogs.store.repo import Repository
from knowledge.loader import Knowledge
from locales.i18n import I18n, Translator

if TYPE_CHECKING:
    from dialogs.engine import Engine


@dataclass(frozen=True)
class Services:
    """What flows may use besides the store: settings and shared helpers, set at start."""

    admin_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    matcher: Any = None  # dialogs.faq_match.FaqMatcher, built once from the knowledge base
    admin_url: str | None = None  # the back office, for /admin's sign-in links
    bot_username: str = ""  # for t.me links (the haastepaja check-in QR code)


@dataclass
class Context:
    """Everything one step needs while one event is handled, and the actions it produces."""

    event: Event
    user: User
    state: DialogState
    repo: Repository
    t: Translator
    kb: Knowledge
    services: Services
    _engine: Engine = field(repr=False)
    first_contact: bool = False
    actions: list[Action | Deferred] = field(default_factory=list)

    # -- texts
    def _(self, message: str, /, **values: object) -> str:
        return self.t._(message, **values)

    def n_(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self.t.n_(singular, plural, n, **values)

    @property
    def lang(self) -> str:
        return self.t.lang

    @property
    def staff_t(self) -> Translator:
        """Texts for the staff chat: always in the programme's default language."""
        return self.translator(self._engine.i18n.default)

    def translator(self, lang: str) -> Translator:
        """Texts in another language (a ticket's author, a chosen language)."""
        i18n: I18n = self._engine.i18n
        return i18n(lang)

    def invalid_button(self) -> None:
        self.toast(self._("That button is not valid."))

    # -- output
    def send(self, text: str, keyboard: Keyboard = ()) -> None:
        self.actions.append(Send(self.event.chat_id, text, keyboard))

    def edit(self, message_id: int | None, text: str, keyboard: Keyboard = ()) -> None:
        if message_id is None:
            self.send(text, keyboard)
        else:
            self.actions.append(Edit(self.event.chat_id, message_id, text, keyboard))

    def send_file(self, kind: str, data: bytes, filename: str, caption: str = "") -> None:
        self.actions.append(SendFile(self.event.chat_id, kind, data, filename, caption))

    def toast(self, text: str = "", alert: bool = False) -> None:
        """The answer to the button press; a later toast replaces an earlier one."""
        self.actions = [a for a in self.actions if not isinstance(a, Toast)]
        self.actions.append(Toast(text, alert))

    def defer(self, make: Callable[[], Awaitable[list[Action]]]) -> None:
        """Produce some actions after the commit, in this place among the others.

        For slow work that needs no database (drawing a chart, a PDF): it then runs
        outside the transaction, so it holds no lock while it takes its time."""
        self.actions.append(Deferred(make))

    def to_chat(self, chat_id: int, text: str, keyboard: Keyboard = ()) -> None:
        self.actions.append(Send(chat_id, text, keyboard))

    def to_staff(self, text: str, keyboard: Keyboard = ()) -> bool:
        """Post to the staff chat; False when no staff chat is configured."""
        if self.services.staff_chat_id is None:
            return False
        self.actions.append(Send(self.services.staff_chat_id, text, keyboard))
        return True

    # -- state
    def go(self, flow: str | None, step: str = "", data: Any = None) -> None:
        """Enter `flow` at `step` with fresh working `data` (None leaves every flow)."""
        self.state.flow = flow
        self.state.step = step
        self.state.data = dump_data(data) if data is not None else {}
        self.state.updated_at = utcnow()

    def at(self, step: str, data: Any) -> None:
        """Move within the current flow and write its working data back."""
        kept = {k: v for k, v in self.state.data.items() if k in RESERVED_KEYS}
        self.state.step = step
        self.state.data = {**dump_data(data), **kept}  # a new dict, so the change is saved
        self.state.updated_at = utcnow()

    @property
    def last_question(self) -> str | None:
        """The latest free-text question (for "ask a person"); /forget erases it."""
        value = self.state.data.get("lastq")
        return value if isinstance(value, str) else None

    def remember_question(self, text: str) -> None:
        self.state.data = {**self.state.data, "lastq": text}
        self.state.updated_at = utcnow()

    # -- the engine, through a small API
    @property
    def in_flow(self) -> bool:
        """True while the user is inside a flow (a question is open)."""
        return self._engine.flow_named(self.state.flow) is not None

    async def begin(self, flow: str, arg: str = "") -> None:
        """Enter the flow called `flow`."""
        await self._engine.flows[flow].begin(self, arg)

    async def show_current(self) -> None:
        """Show the open step again, if there is one."""
        await self._engine.show_current(self)

    async def cancel_flow(self) -> bool:
        """Leave the open flow (its `on_cancel` runs first); False if none was open."""
        return await self._engine.cancel_flow(self)

    async def run_command(self, name: str, args: str = "") -> None:
        await self._engine.run_command(self, name, args)

    async def answer_text(self, text: str) -> None:
        """Free text outside a flow's question: the registered text fallback (the FAQ)."""
        fallback = self._engine.hooks.get("text_fallback")
        if fallback is not None:
            await fallback(self, text)

    async def open_deeplink(self, payload: str) -> bool:
        """`/start <payload>`: True when a registered deep link handled it."""
        for resolver in self._engine.deeplinks:
            if await resolver(self, payload):
                return True
        return False

    def command_help(self) -> list[CommandInfo]:
        """Commands registered with a help text, in registration order."""
        return list(self._engine.command_info)

    @property
    def message_id(self) -> int | None:
        """The message whose button is being pressed (None for other events)."""
        return getattr(self.event.body, "message_id", None)

    # -- roles
    def has_role(self, role: str) -> bool:
        return self.user.id in self.services.admin_ids or self.user.has_role(role)


Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Deferred:
    """A placeholder the engine replaces with `make()`'s actions after the commit."""

    make: Callable[[], Awaitable[list[Action]]]


@dataclass(frozen=True)
class CommandInfo:
    """A command for /help and the Telegram menus: its name, help text and role."""

    name: str
    help: str
    role: str | None


HOOKS = ("text_fallback", "aside", "staff_reply")


@dataclass
class Router:
    """Collects one module's commands, global buttons, flows, deep links and hooks."""

    name: str
    commands: dict[str, tuple[Handler, str | None]] = field(default_factory=dict)
    help: list[CommandInfo] = field(default_factory=list)
    buttons: dict[str, tuple[type[Payload], Handler]] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    deeplinks: list[Callable[[Context, str], Awaitable[bool]]] = field(default_factory=list)
    # text_fallback(ctx, text): free text outside a flow; aside(ctx, text) -> bool: text
    # typed while a button question is open, True if answered on the side;
    # staff_reply(ctx, text, reply_to): a reply to a bot message in the staff chat
    hooks: dict[str, Handler] = field(default_factory=dict)

    def command(
        self, *names: str, role: str | None = None, help: str | None = None
    ) -> Callable[[Handler], Handler]:
        """`/name args` calls `handler(ctx, args)`; with `role`, only for that role; with
        `help` (an `N_()` text), the first name is listed in /help and Telegram's menu."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self.commands[name] = (handler, role)
            if help is not None:
                self.help.append(CommandInfo(names[0], help, role))
            return handler

        return register

    def button(self, kind: type[Payload]) -> Callable[[Handler], Handler]:
        """A global payload kind: `handler(ctx, payload)` at any time, with the parsed
        payload (a payload that does not parse gets the polite "not valid")."""

        def register(handler: Handler) -> Handler:
            if kind.prefix in self.buttons:
                raise ValueError(f"payload prefix {kind.prefix!r} registered twice")
            self.buttons[kind.prefix] = (kind, handler)
            return handler

        return register

    def flow(self, flow: Flow) -> Flow:
        self.flows[flow.prefix] = flow
        return flow

    def deeplink(
        self, resolver: Callable[[Context, str], Awaitable[bool]]
    ) -> Callable[[Context, str], Awaitable[bool]]:
        """`/start <payload>`: the resolver returns True when it handled the payload."""
        self.deeplinks.append(resolver)
        return resolver

    def hook(self, name: str) -> Callable[[Handler], Handler]:
        """Register one of the engine's hooks (`HOOKS`); each may be given only once."""
        if name not in HOOKS:
            raise ValueError(f"unknown hook {name!r}; hooks are {HOOKS}")

        def register(handler: Handler) -> Handler:
            if name in self.hooks:
                raise ValueError(f"hook {name!r} registered twice")
            self.hooks[name] = handler
            return handler

        return register
