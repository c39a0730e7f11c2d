"""Waking waiters when something happens (a request, an update, a delivery)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from tests.fake_telegram.errors import WaitTimeout


class _Signal:
    """Wakes every waiter at once; waiters take :meth:`future` before checking state."""

    __slots__ = ("_fut",)

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] | None = None

    def future(self) -> asyncio.Future[None]:
        if self._fut is None or self._fut.done():
            self._fut = asyncio.get_running_loop().create_future()
        return self._fut

    def fire(self) -> None:
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_result(None)


async def _wait_on(
    signal: _Signal,
    check: Callable[[], Any],
    timeout: float,  # noqa: ASYNC109
    describe: Callable[[], str],
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        fut = signal.future()
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout}s: {describe()}")
        await asyncio.wait({fut}, timeout=remaining)
