"""The webhook server's guard: slow or endless connections are closed within the timeout,
connections above the cap are refused, and a real request still goes through."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from bot.adapters.guard import (
    GuardedSite,
    _AcceptErrors,
    head_received,
    read_body,
)

TIMEOUT = 0.5  # seconds, short for the test


async def serve(max_connections: int = 50) -> tuple[web.AppRunner, GuardedSite]:
    async def echo(request: web.Request) -> web.Response:
        body = await read_body(request, TIMEOUT)
        if body is None:
            return web.Response(status=408)
        return web.Response(text=f"got {len(body)}")

    app = web.Application(middlewares=[head_received], client_max_size=1024)
    app.router.add_post("/hook", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = GuardedSite(
        runner, "127.0.0.1", 0, header_timeout=TIMEOUT, max_connections=max_connections
    )
    await site.start()
    return runner, site


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except TimeoutError:
        return False


async def test_slow_heads_and_bodies_are_closed_while_a_real_request_goes_through() -> None:
    runner, site = await serve()
    try:
        slow_head = await asyncio.open_connection("127.0.0.1", site.port)
        slow_head[1].write(b"POST /hook HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        slow_body = await asyncio.open_connection("127.0.0.1", site.port)
        slow_body[1].write(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        silent = await asyncio.open_connection("127.0.0.1", site.port)  # sends nothing
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{site.port}/hook", data=b"x" * 10) as r:
                assert (r.status, await r.text()) == (200, "got 10")
            async with http.post(f"http://127.0.0.1:{site.port}/hook", data=b"x" * 2000) as r:
                assert r.status == 413  # over client_max_size
        for reader, writer in (slow_head, slow_body, silent):
            assert await closed_within(reader, 10 * TIMEOUT)
            writer.close()
        assert site.timed_out >= 2
    finally:
        await runner.cleanup()


async def test_connections_over_the_cap_are_refused_at_once() -> None:
    runner, site = await serve(max_connections=3)
    try:
        held = [await asyncio.open_connection("127.0.0.1", site.port) for _ in range(3)]
        extra_reader, extra = await asyncio.open_connection("127.0.0.1", site.port)
        assert await closed_within(extra_reader, TIMEOUT / 2)  # before any timeout
        extra.close()
        assert site.refused == 1
        for _, writer in held:
            writer.close()
        await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:  # room again
            async with http.post(f"http://127.0.0.1:{site.port}/hook", data=b"ok") as r:
                assert r.status == 200
    finally:
        await runner.cleanup()


def test_accept_errors_are_logged_at_most_once_a_minute(caplog) -> None:
    passed: list[dict] = []
    handler = _AcceptErrors(lambda loop, ctx: passed.append(ctx), every=60)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(1000):
                handler(loop, {"message": "socket.accept() out of system resource"})
            handler(loop, {"message": "something else"})
    finally:
        loop.close()
    assert len([r for r in caplog.records if "cannot accept" in r.getMessage()]) == 1
    assert handler.suppressed == 999
    assert passed == [{"message": "something else"}]
