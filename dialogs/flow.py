"""How a flow is written: a declared table of steps, typed working data, payloads, Context.

**Flow.** A conversation that keeps a user at a step until it ends. A subclass sets
`name` (stored in `DialogState.flow`), `prefix` (its button payloads) and `Data` (a
frozen dataclass: its working data), and is made with its steps: `Flow(steps())`, where
`steps()` is the first function of the module, so the table is what a reader sees first
(a function, so that it can name the step functions defined below it). It implements
`begin(ctx, arg)`, may implement `on_cancel(ctx, data)` (/cancel, "Later") and may list
in `entries` the steps `begin` can enter (for the diagram; default: the first step).

**Step.** One entry of the table:

    Step("lang", show=ask_language,
         buttons={"fi": pick, "en": pick, "sv": pick, "any": pick, "t.*": tick, "*": other},
         text=None, node=None, goes=("time",))

- `show(ctx, data)` renders the step (after a reminder, a resume, /menu "Continue");
- `buttons` maps a button value to `handler(ctx, data, value)`; a key ending in `*` is a
  value class: `"t.*"` takes any value starting `t.` (the handler gets the rest, e.g. an
  option id), `"*"` any other value (e.g. "an option id"); the handler checks the id;
- `text(ctx, data, text) -> bool` takes a typed message (False: this step wants buttons);
- `node(data)` is the id the step's payloads carry when it is not the step id (a
  questionnaire's question id); `goes` lists the steps it leads to, `END` when it may
  leave the flow (checked when the flow is made; `kierto-bot flows` draws them).

The engine dispatches through the table: a button is `<prefix>:<node>:<value>` and is
accepted only while the user is at that step of that flow (else "an earlier step"); text
goes to the current step's `text`. Before a button handler runs the press is answered
(`ctx.toast()`); a handler may replace that with its own toast.

**Data.** Step handlers get the current data, parsed from `DialogState.data` (JSON;
`flow.data(ctx)` elsewhere). Change it with `dataclasses.replace` and write it back
explicitly: `ctx.go(flow.name, step, data)` enters a step with new data, `ctx.at(step,
data)` moves within the flow. A
stored state that no longer parses (old keys, a removed step) is not a crash: the engine
restarts the flow with `begin` and the user carries on from there.

**Payloads.** `flow.button(node, value)` is a flow's payload; global buttons (valid at any
time: a placement card, a results PDF) are `dialogs.payload.Payload` kinds registered with
`@router.button(Kind)`; their handler gets the parsed, validated payload. A module that
shows another flow's button calls a builder exported by that flow (`placement.card_button`).

**Context** (one event): `send/edit/toast/send_file/defer/to_staff`, `ctx.go/at`, and the
engine through a small API: `await ctx.begin("kartoitus")`, `await ctx.show_current()`,
`await ctx.run_command("human")`, `await ctx.cancel_flow()`, `await ctx.answer_text(text)`
(the text fallback), `await ctx.open_deeplink(payload)`, `ctx.command_help()`,
`ctx.translator(lang)`, `ctx.staff_t`, `ctx.in_flow`, `ctx.remember_question(text)` /
`ctx.last_question` (kept across a flow's data writes). Hooks (`text_fallback`, `aside`,
`staff_reply`) are set once with `@router.hook(name)`; a second one is an error.
Commands carry their help: `@router.command("help", help=N_("what I can do"))`; /help and
Telegram's command menus list them in registration order (`dialogs.routers()`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from dialogs.payload import Payload

if TYPE_CHECKING:
    from dialogs.router import Context

log = logging.getLogger(__name__)

D = TypeVar("D")
ButtonHandler = Callable[["Context", Any, str], Awaitable[None]]
TextHandler = Callable[["Context", Any, str], Awaitable[bool]]
ShowHandler = Callable[["Context", Any], Awaitable[None]]
# keys of DialogState.data that belong to the conversation, not to a flow's data
RESERVED_KEYS = frozenset({"lastq"})
END = "[*]"  # in `Step.goes`: the step may leave the flow


@dataclass(frozen=True)
class StepButton(Payload):
    """A flow's button: `<flow prefix>:<node>:<value>`."""

    node: str
    value: str


@dataclass(frozen=True)
class Step(Generic[D]):
    """One step of a flow's table (see the module docstring)."""

    id: str
    show: ShowHandler
    buttons: Mapping[str, ButtonHandler] = field(default_factory=dict)
    text: TextHandler | None = None
    node: Callable[[Any], str] | None = None
    goes: tuple[str, ...] = ()

    def node_of(self, data: Any) -> str:
        return self.node(data) if self.node is not None else self.id

    def handler(self, value: str) -> tuple[ButtonHandler, str] | None:
        """The handler for a button value and the argument it gets, or None."""
        if value in self.buttons and not value.endswith("*"):
            return self.buttons[value], value
        for key, handler in self.buttons.items():
            if key.endswith("*") and key != "*" and value.startswith(key[:-1]):
                return handler, value[len(key) - 1 :]
        if "*" in self.buttons:
            return self.buttons["*"], value
        return None


class Flow(ABC, Generic[D]):
    """A conversation held at a step until it ends (see the module docstring)."""

    name: ClassVar[str]
    prefix: ClassVar[str]
    Data: ClassVar[type]
    entries: ClassVar[tuple[str, ...]] = ()  # steps `begin` may enter (default: the first)

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = tuple(steps)
        self.table: dict[str, Step] = {}
        for step in self.steps:
            if step.id in self.table:
                raise ValueError(f"{self.name}: step {step.id!r} declared twice")
            self.table[step.id] = step
        for step in self.steps:
            for target in step.goes:
                if target not in self.table and target != END:
                    raise ValueError(f"{self.name}: {step.id!r} goes to unknown {target!r}")
        for entry in self.entries:
            if entry not in self.table:
                raise ValueError(f"{self.name}: unknown entry step {entry!r}")
        self.Payload = type(f"{type(self).__name__}Button", (StepButton,), {}, prefix=self.prefix)
        self._packed: dict[tuple[str, str], str] = {}

    def button(self, node: str, value: str) -> str:
        """The payload of this flow's button `value` at `node` (packed once: a keyboard is
        drawn with the same buttons over and over)."""
        key = (node, value)
        packed = self._packed.get(key)
        if packed is None:
            packed = self.Payload(node, value).pack()
            if len(self._packed) >= 4096:  # values can be ids: keep the cache bounded
                self._packed.clear()
            self._packed[key] = packed
        return packed

    def data(self, ctx: Context) -> D:
        """The current working data (the engine has checked it parses)."""
        data = load_data(self.Data, ctx.state.data)
        if data is None:
            raise ValueError(f"{self.name}: stored data does not parse")
        return data

    @abstractmethod
    async def begin(self, ctx: Context, arg: str = "") -> None:
        """Enter the flow (from the menu, a command or a deep link)."""

    async def on_cancel(self, ctx: Context, data: D) -> None:
        # an optional hook: most flows keep nothing to tidy up
        """Called by /cancel (and "Later") before the state is cleared."""


# ---------------------------------------------------------------------- data <-> JSON


def dump_data(data: Any) -> dict[str, Any]:
    """A flow's data as JSON-ready values (tuples become lists)."""
    return {
        f.name: list(value) if isinstance(value := getattr(data, f.name), tuple) else value
        for f in dataclasses.fields(data)
    }


@functools.cache
def _shape(cls: type) -> tuple[tuple[dataclasses.Field[Any], ...], dict[str, Any], frozenset[str]]:
    """A data class's fields, type hints and field names, worked out once per class
    (`typing.get_type_hints` evaluates every annotation again each time it is asked)."""
    fields = dataclasses.fields(cls)
    return fields, typing.get_type_hints(cls), frozenset(f.name for f in fields)


def load_data(cls: type[D], raw: object) -> D | None:
    """`cls` from stored JSON, or None when it does not fit (old keys, wrong types)."""
    if not isinstance(raw, dict):
        return None
    fields, hints, names = _shape(cls)
    if set(raw) - names - RESERVED_KEYS:
        return None
    values: dict[str, Any] = {}
    for f in fields:
        if f.name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return None
            continue
        ok, value = _coerce(raw[f.name], hints[f.name])
        if not ok:
            return None
        values[f.name] = value
    return cls(**values)


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(hint):
            ok, out = _coerce(value, option)
            if ok:
                return True, out
        return False, None
    if hint is type(None):
        return value is None, None
    if origin is tuple:
        (item, _) = typing.get_args(hint)
        if not isinstance(value, list):
            return False, None
        out = [_coerce(v, item) for v in value]
        return all(ok for ok, _ in out), tuple(v for _, v in out)
    if origin is Literal:
        return value in typing.get_args(hint), value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is str:
        return isinstance(value, str), value
    return False, None
