"""The baseline for bench/telegram_load.py: a bare aiogram 3 echo bot, nothing else.

    ECHO_TOKEN=123:abc ECHO_API_URL=http://127.0.0.1:8081 python bench/echo_bot.py

It answers every text message with the same text and every button press with an empty
answer, using aiogram's own long polling (handle_as_tasks, the default).
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["ECHO_API_URL"]))
    bot = Bot(os.environ["ECHO_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @dispatcher.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()

    await dispatcher.start_polling(bot, polling_timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
