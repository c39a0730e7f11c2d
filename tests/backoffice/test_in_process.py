"""The back office in the bot's own process (ADMIN_LISTEN set), against the fake Bot API:
the sign-in link comes from /admin in Telegram, and a reply written in the web reaches the
person in Telegram through the outbox."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import aiohttp

from bot.adapters import serve
from tests.adapters.test_runtimes import (
    ADMIN,
    STAFF_CHAT,
    send_and_wait,
    settings_for,
    start,
    stop,
)
from tests.fake_telegram import FakeTelegram


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_admin_link_and_web_reply_through_telegram(
    fake_telegram: FakeTelegram, tmp_path: Path, make_app
) -> None:
    fake_telegram.group(STAFF_CHAT, "KIERTO staff")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = await make_app(
        settings_for(fake_telegram, tmp_path, admin_listen=f"127.0.0.1:{port}", admin_url=base)
    )
    running = await start(fake_telegram, app, "aiogram")
    # the door's outbox sender sends what the back office queues (serve.polling runs it too)
    sender = asyncio.create_task(running.door.outbox.run())
    person = fake_telegram.user(51, language_code="en")
    coordinator = fake_telegram.user(ADMIN, language_code="fi")
    async with serve.beside(app, running.door):
        await send_and_wait(running, person, "/human")
        await send_and_wait(running, person, "Can I bring a friend to the workshop?")
        await send_and_wait(running, coordinator, "/admin")
        link = re.search(r"(http://\S+/login\?t=[\w-]+)", coordinator.bot_messages[-1].content)
        assert link is not None and link.group(1).startswith(base)
        token = link.group(1).split("t=", 1)[1]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for _ in range(100):  # the server starts beside the door
                try:
                    async with http.get(base + "/login"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with http.post(base + "/login", data={"t": token}) as signed:
                assert signed.status == 200 and signed.url.path == "/"
            async with http.get(base + "/tickets/1") as page:
                html = await page.text()
            assert "Can I bring a friend to the workshop?" in html
            csrf = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            async with http.post(
                base + "/tickets/1", data={"csrf": csrf, "reply": "Yes, of course!"}
            ) as sent:
                assert sent.status == 200
        await fake_telegram.wait_until(
            lambda: any("Yes, of course!" in m.content for m in person.bot_messages), timeout=10
        )
    await stop(running)
    running.door.stopping.set()
    await asyncio.wait_for(sender, 10)
    await app.close()
