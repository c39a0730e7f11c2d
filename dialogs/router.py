"""Routing pieces shared by the flows: the per-event `Context`, `Flow` and `Router`.

Button payloads are `<prefix>:<rest>` in ASCII, at most 64 bytes. A prefix belongs either to
a *flow*, whose payloads are `<prefix>:<node>:<value>` and are accepted only while the user
is at that node of that flow (anything else is stale or forged), or to a *global* handler,
which accepts its payloads at any time and checks their values itself (a menu entry, a
"did you mean" suggestion, a placement card).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dialogs.actions import Action, Edit, Keyboard, Send, SendFile, Toast
from dialogs.events import Event
from dialogs.store.models import DialogState, User, utcnow
from dialogs.store.repo import Repository
from knowledge.loader import Knowledge
from locales.i18n import Translator

if TYPE_CHECKING:
    from dialogs.engine import Engine

PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Services:
    """What flows may use besides the store: settings and shared helpers, set at start."""

    admin_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    matcher: Any = None  # dialogs.faq_match.FaqMatcher, built once from the knowledge base
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
    engine: Engine
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
        return self.engine.i18n(self.engine.i18n.default)

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
    def go(self, flow: str | None, step: str = "", **data: Any) -> None:
        """Enter `flow` at `step` with fresh scratch data (None leaves every flow)."""
        self.state.flow = flow
        self.state.step = step
        self.state.data = dict(data)
        self.state.updated_at = utcnow()

    def at(self, step: str, **changes: Any) -> None:
        """Move within the current flow, keeping (and updating) its scratch data."""
        self.state.step = step
        self.state.data = {**self.state.data, **changes}  # a new dict, so the change is saved
        self.state.updated_at = utcnow()

    @property
    def message_id(self) -> int | None:
        """The message whose button is being pressed (None for other events)."""
        return getattr(self.event.body, "message_id", None)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    # -- roles
    def has_role(self, role: str) -> bool:
        return self.user.id in self.services.admin_ids or self.user.has_role(role)


Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Deferred:
    """A placeholder the engine replaces with `make()`'s actions after the commit."""

    make: Callable[[], Awaitable[list[Action]]]


class Flow(ABC):
    """A conversation that keeps a user at a step until it ends.

    Subclasses set `name` and `prefix`, and implement `begin`, `show` (render the current
    step again: after a reminder, a resume) and the input handlers.
    """

    name: ClassVar[str]
    prefix: ClassVar[str]

    def node(self, ctx: Context) -> str:
        """The id that this flow's button payloads must name to be current."""
        return ctx.state.step

    def payload(self, node: str, value: str) -> str:
        return f"{self.prefix}:{node}:{value}"

    @abstractmethod
    async def begin(self, ctx: Context, arg: str = "") -> None:
        """Enter the flow (from the menu, a command or a deep link)."""

    @abstractmethod
    async def show(self, ctx: Context) -> None:
        """Render the current step again."""

    @abstractmethod
    async def on_button(self, ctx: Context, node: str, value: str) -> None:
        """A press of one of this flow's buttons at the current node."""

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Take a text message; False when this step expects a button instead."""
        return False

    async def on_cancel(self, ctx: Context) -> None:  # noqa: B027  (optional hook)
        """Called by /cancel before the state is cleared."""


@dataclass
class Router:
    """Collects one module's commands, global buttons, flows and deep links."""

    name: str
    commands: dict[str, tuple[Handler, str | None]] = field(default_factory=dict)
    buttons: dict[str, Handler] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    deeplinks: list[Callable[[Context, str], Awaitable[bool]]] = field(default_factory=list)
    text_fallback: Handler | None = None
    # text typed while a button question is open: True if it was answered on the side
    aside: Callable[[Context, str], Awaitable[bool]] | None = None
    staff_reply: Handler | None = None

    def command(self, *names: str, role: str | None = None) -> Callable[[Handler], Handler]:
        """`/name args` calls `handler(ctx, args)`; with `role`, only for that role."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self.commands[name] = (handler, role)
            return handler

        return register

    def button(self, prefix: str) -> Callable[[Handler], Handler]:
        """A global payload `<prefix>:<value>` calls `handler(ctx, value)` at any time."""

        def register(handler: Handler) -> Handler:
            self.buttons[prefix] = handler
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
