"""Updates read as the Bot API's JSON (bot/adapters/telegram/updates.py `RawUpdate`) give
the engine the same events as aiogram's and python-telegram-bot's own Update objects."""

from __future__ import annotations

from typing import Any

import pytest
import telegram
from aiogram.types import Update as AiogramUpdate

from bot.adapters.telegram.updates import RawUpdate, incoming, raw_updates

BOT_ID = 4242
PERSON = {"id": 7, "is_bot": False, "first_name": "A", "language_code": "sv"}
CHAT = {"id": 7, "type": "private", "first_name": "A"}


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 31, "date": 1_700_000_000, "chat": CHAT, "from": PERSON, **fields}


UPDATES: list[dict[str, Any]] = [
    {"update_id": 1, "message": message(text="hei")},
    {"update_id": 2, "message": message(text="/start kartoitus")},
    {"update_id": 3, "message": message(text="/help@kierto_bot")},
    {
        "update_id": 4,
        "message": message(
            text="vastaus",
            chat={"id": -100, "type": "supergroup", "title": "Staff"},
            reply_to_message={
                "message_id": 9,
                "date": 1_700_000_000,
                "chat": {"id": -100, "type": "supergroup", "title": "Staff"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
                "text": "Ticket #3",
            },
        ),
    },
    {
        "update_id": 5,
        "message": message(
            photo=[{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
        ),
    },
    {"update_id": 6, "message": message(sticker=None, text=None, caption="x")},  # nothing
    {
        "update_id": 7,
        "message": message(
            text="hi", **{"from": {"id": 9, "is_bot": True, "first_name": "Other bot"}}
        ),
    },
    {
        "update_id": 8,
        "callback_query": {
            "id": "cb1",
            "from": PERSON,
            "chat_instance": "ci",
            "message": message(text="Question?"),
            "data": "k:q1:a",
        },
    },
    {  # the pressed message is too old for Telegram to send: an inaccessible message
        "update_id": 9,
        "callback_query": {
            "id": "cb2",
            "from": {"id": 8, "is_bot": False, "first_name": "B"},
            "chat_instance": "ci",
            "message": {"message_id": 12, "date": 0, "chat": {"id": 8, "type": "private"}},
            "data": "m:company",
        },
    },
    {  # a game button: no data
        "update_id": 10,
        "callback_query": {
            "id": "cb3",
            "from": PERSON,
            "chat_instance": "ci",
            "game_short_name": "g",
        },
    },
    {"update_id": 11, "edited_message": message(text="edited")},  # not asked for
]


@pytest.mark.parametrize("data", UPDATES, ids=[str(u["update_id"]) for u in UPDATES])
def test_raw_json_reads_as_the_libraries_objects_do(data: dict[str, Any]) -> None:
    raw = incoming(RawUpdate(data), BOT_ID)
    by_aiogram = incoming(AiogramUpdate.model_validate(data), BOT_ID)
    by_ptb = incoming(telegram.Update.de_json(data, None), BOT_ID)
    assert raw == by_aiogram == by_ptb


def test_an_update_missing_its_fields_is_nothing_for_the_engine() -> None:
    broken = RawUpdate({"update_id": 12, "message": {"text": "no chat, no author"}})
    assert incoming(broken, BOT_ID).event is None
    assert incoming(broken, BOT_ID).update_id == 12


def test_what_is_not_an_update_is_refused() -> None:
    for bad in ({}, {"update_id": "3"}, {"update_id": True}, [1]):
        with pytest.raises(ValueError):
            RawUpdate(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        raw_updates({"update_id": 1})
    assert [u.update_id for u in raw_updates(UPDATES[:2])] == [1, 2]
