"""A stand-in for the declared step table until `dialogs.flow` lands on main.

`TableFlow` runs a tuple of `Step(id, show, buttons, text, goes)` with a frozen dataclass
as its working data, as `dialogs.flow.Flow` will: handlers are `(ctx, data, value)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dialogs.router import Context, Flow


@dataclass(frozen=True)
class Step:
    id: str
    show: Callable[..., Awaitable[None]]
    buttons: Mapping[str, Callable[..., Awaitable[None]]] = field(default_factory=dict)
    text: Callable[..., Awaitable[bool]] | None = None
    goes: tuple[str, ...] = ()

    def handler(self, value: str) -> tuple[Callable[..., Awaitable[None]], str] | None:
        if value in self.buttons and not value.endswith("*"):
            return self.buttons[value], value
        for key, handler in self.buttons.items():
            if key.endswith("*") and key != "*" and value.startswith(key[:-1]):
                return handler, value[len(key) - 1 :]
        return None


def dump(data: Any) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(data, f.name), tuple) else v
        for f in dataclasses.fields(data)
    }


def load(cls: type, raw: dict[str, Any]) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names})


class TableFlow(Flow):
    Data: ClassVar[type]
    steps: ClassVar[tuple[Step, ...]]

    def __init__(self) -> None:
        self.table = {step.id: step for step in self.steps}

    def button(self, node: str, value: str) -> str:
        return self.payload(node, value)

    def data(self, ctx: Context) -> Any:
        return load(self.Data, ctx.state.data)

    def move(self, ctx: Context, step: str, data: Any) -> None:
        ctx.go(self.name, step, **dump(data))

    async def show(self, ctx: Context) -> None:
        await self.table[ctx.state.step].show(ctx, self.data(ctx))

    async def on_button(self, ctx: Context, node: str, value: str) -> None:
        found = self.table[ctx.state.step].handler(value)
        if found is None:
            ctx.invalid_button()
            return
        ctx.toast()
        handler, arg = found
        await handler(ctx, self.data(ctx), arg)

    async def on_text(self, ctx: Context, text: str) -> bool:
        step = self.table[ctx.state.step]
        if step.text is None:
            return False
        return await step.text(ctx, self.data(ctx), text)
