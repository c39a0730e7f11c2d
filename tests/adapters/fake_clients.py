"""Clients of the fake Bot API server for its own tests: aiogram's and PTB's Bot, plain
JSON requests and a stand-in webhook endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import telegram
import telegram.error
from aiogram import Bot
from aiogram import types as at
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from tests.fake_telegram import (
    FakeTelegram,
)

TOKEN = "123456:TEST"


@contextlib.asynccontextmanager
async def aiogram_bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(fake.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


@contextlib.asynccontextmanager
async def ptb_bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(
        fake.token,
        base_url=f"{fake.base_url}/bot",
        base_file_url=f"{fake.base_url}/file/bot",
    )
    async with bot:
        yield bot


async def api(
    http: aiohttp.ClientSession, fake: FakeTelegram, method: str, **params: Any
) -> tuple[int, Any]:
    """POST a JSON request the way a plain HTTP client would."""
    async with http.post(f"{fake.api_url}/{method}", json=params) as resp:
        return resp.status, await resp.json()


@contextlib.asynccontextmanager
async def webhook_receiver(
    status: int = 200,
) -> AsyncIterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]], dict[str, Any]]]:
    """A tiny HTTP server standing in for the bot's webhook endpoint."""
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    state: dict[str, Any] = {"status": status, "reply": {}}

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.json()))
        return web.json_response(state["reply"], status=state["status"])

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received, state
    finally:
        await runner.cleanup()


def keyboard(*rows: list[tuple[str, str]]) -> at.InlineKeyboardMarkup:
    return at.InlineKeyboardMarkup(
        inline_keyboard=[
            [at.InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
        ]
    )
