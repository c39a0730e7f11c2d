"""A small load balancer for tests and drills: what nginx does in docker-compose, in-process.

    balancer = await Balancer(["http://127.0.0.1:8081", ...]).start()
    balancer.url  # give this to the fake Telegram as the webhook (through WEBHOOK_URL)

- Requests go to the healthy backends in turn (round robin). A backend is healthy while
  its `GET /healthz` answers 200 (checked every `check_every` seconds), like nginx's
  `max_fails`/`fail_timeout` passive checks or HAProxy's `option httpchk`.
- A request that could not be *sent* (connection refused or reset while connecting) goes
  to the next backend, as nginx's `proxy_next_upstream error` does for a POST; once a
  request was sent, its failure or timeout is answered 502/504 and Telegram retries it.
- `mirror(body) -> bool` picks requests to send to two backends at once (a duplicate
  delivery to two replicas); the answer is the better of the two.
- `forwarded` records every request handed to a backend (update id, backend, when, how
  long, the answer), for the drills' account of their slowest replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web


@dataclass
class Forwarded:
    update_id: int | None
    backend: str
    started: float  # time.monotonic()
    duration: float
    status: int | str  # the backend's answer, or what went wrong


def _update_id(body: bytes) -> int | None:
    try:
        value = json.loads(body).get("update_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class Balancer:
    def __init__(
        self,
        backends: list[str],
        *,
        check_every: float = 0.5,
        timeout: float = 60.0,
        mirror: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.backends = backends
        self.healthy = set(backends)
        self.check_every = check_every
        self.timeout = timeout
        self.mirror = mirror
        self.sent: Counter[str] = Counter()  # requests per backend
        self.statuses: Counter[int] = Counter()  # answers given to the client
        self.mirrored = 0
        self.forwarded: list[Forwarded] = []
        self.port = 0
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._checker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Balancer:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=2 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._checker = asyncio.create_task(self._check())
        return self

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _check(self) -> None:
        assert self._session is not None
        while True:
            for backend in self.backends:
                try:
                    async with self._session.get(
                        backend + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        ok = resp.status == 200
                except Exception:  # any failure: unhealthy
                    ok = False
                (self.healthy.add if ok else self.healthy.discard)(backend)
            await asyncio.sleep(self.check_every)

    def _order(self) -> list[str]:
        """The healthy backends, starting with the next one's turn."""
        live = [b for b in self.backends if b in self.healthy] or list(self.backends)
        start = next(self._turn) % len(live)
        return live[start:] + live[:start]

    async def _proxy(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        order = self._order()
        if self.mirror is not None and len(self.backends) > 1 and request.method == "POST":
            if self.mirror(body):
                self.mirrored += 1
                first = order[0]
                others = [b for b in self.backends if b != first]
                second = others[next(self._turn) % len(others)]
                answers = await asyncio.gather(
                    self._forward(order, request, headers, body),
                    self._forward(
                        [second, *[b for b in others if b != second]], request, headers, body
                    ),
                )
                answer = min(answers, key=lambda r: r.status)
                self.statuses[answer.status] += 1
                return answer
        answer = await self._forward(order, request, headers, body)
        self.statuses[answer.status] += 1
        return answer

    async def _forward(
        self, order: list[str], request: web.Request, headers: dict[str, str], body: bytes
    ) -> web.Response:
        assert self._session is not None
        update_id = _update_id(body) if request.method == "POST" else None
        for backend in order:
            started = time.monotonic()

            def record(status: int | str, backend: str = backend, started: float = started) -> None:
                if update_id is not None:
                    self.forwarded.append(
                        Forwarded(update_id, backend, started, time.monotonic() - started, status)
                    )

            try:
                async with self._session.request(
                    request.method,
                    backend + request.path_qs,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    self.sent[backend] += 1
                    content = await resp.read()
                    record(resp.status)
                    return web.Response(
                        status=resp.status,
                        body=content,
                        headers={
                            k: v
                            for k, v in resp.headers.items()
                            if k.lower() in ("content-type", "retry-after")
                        },
                    )
            except aiohttp.ClientConnectorError:
                record("refused")
                self.healthy.discard(backend)
                continue  # not sent: the next backend may take it
            except TimeoutError:
                record("timeout")
                return web.Response(status=504, text="backend timed out")
            except Exception as exc:  # sent, then the backend went away
                record(type(exc).__name__)
                with contextlib.suppress(Exception):
                    self.healthy.discard(backend)
                return web.Response(status=502, text=f"backend failed: {type(exc).__name__}")
        return web.Response(status=502, text="no backend")
