"""Hardening for the webhook's web server: nobody can starve it by opening connections.

aiohttp alone waits for a request's headers and body as long as the client likes, takes
every connection the kernel hands it, and logs each failed accept: 60 slow connections
stayed open for 75 s, 1,100 of them ran the process out of file descriptors, real
deliveries and /healthz timed out and the log grew by megabytes a second. Here:

- `GuardedSite` (a `web.TCPSite`) wraps each connection in a `_Guard` that closes it when
  its request headers are not complete within `header_timeout` (and, between keep-alive
  requests, when it stays idle as long), and refuses connections above `max_connections`
  at once, so descriptors stay free for Telegram and /healthz;
- `read_body` reads a request body with a deadline (`body_timeout`), the size capped by the
  application's `client_max_size`;
- `quiet_accept_errors` rate-limits asyncio's "socket.accept() out of system resource"
  messages: one line a minute with a count, instead of thousands a second.

In production put a reverse proxy with its own timeouts in front as well (see README,
"Reliability"): these limits keep the bot alive when that is missing or misconfigured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 10.0  # seconds for a request's headers (and a keep-alive idle spell)
BODY_TIMEOUT = 10.0  # seconds for a request's body
MAX_CONNECTIONS = 200  # open connections at once; Telegram uses up to 40 (max_connections)


class _Guard(asyncio.Protocol):
    """aiohttp's request handler with a deadline for every request head."""

    def __init__(self, inner: Any, site: GuardedSite) -> None:
        self.inner = inner
        self.site = site
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.site.open += 1
        if self.site.open > self.site.max_connections:
            self.site.refused += 1
            transport.abort()  # over the cap: the descriptor is freed at once
            return
        _GUARDS[transport] = self
        self.inner.connection_made(transport)
        self.arm()

    def arm(self) -> None:
        """(Re)start the deadline for the next request head."""
        self.disarm()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.site.header_timeout, self._expired)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.site.timed_out += 1
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.site.open -= 1
        self.disarm()
        if self.transport is not None and _GUARDS.pop(self.transport, None) is self:
            self.inner.connection_lost(exc)


class GuardedSite(web.TCPSite):
    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.open = 0
        self.refused = 0
        self.timed_out = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Guard(server(), self),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])


@web.middleware
async def head_received(request: web.Request, handler: Any) -> web.StreamResponse:
    """The head is in (aiohttp has parsed it): stop its deadline while the request is
    handled; start it again for the next request on the connection."""
    guard = _guard_of(request)
    if guard is not None:
        guard.disarm()
    try:
        return await handler(request)
    finally:
        if guard is not None:
            guard.arm()


def _guard_of(request: web.Request) -> _Guard | None:
    return _GUARDS.get(request.transport) if request.transport is not None else None


_GUARDS: dict[Any, _Guard] = {}  # transport -> its guard, while the connection is open


async def read_body(request: web.Request, timeout: float = BODY_TIMEOUT) -> bytes | None:  # noqa: ASYNC109
    """The request's body, or None (and the connection closed) when it does not arrive in
    time. A body over the application's `client_max_size` raises 413 as usual."""
    try:
        return await asyncio.wait_for(request.read(), timeout)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
        return None


class _AcceptErrors:
    """A loop exception handler that passes everything on, except that accept failures
    (out of file descriptors) are logged at most once per `every` seconds, with a count."""

    def __init__(self, previous: Any, every: float) -> None:
        self.previous = previous
        self.every = every
        self.last = 0.0
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "socket.accept()" not in str(context.get("message", "")):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last < self.every:
            self.suppressed += 1
            return
        exc = context.get("exception")
        log.error(
            "cannot accept connections (%s); %d similar messages in the last %.0f s suppressed",
            exc if exc is not None else context.get("message"),
            self.suppressed,
            self.every if self.last else 0,
        )
        self.last, self.suppressed = now, 0


def quiet_accept_errors(every: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_AcceptErrors(loop.get_exception_handler(), every))
