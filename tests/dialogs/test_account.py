"""The commands that work at any time: /mydata and /forget."""

from __future__ import annotations

import json

from bot.app import App
from dialogs.actions import SendFile, Toast
from dialogs.events import Button


async def test_mydata_has_everything(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await me.send("who won the football world cup in 1966?")
    await me.send("/mydata")
    dump = json.loads(next(a for a in me.actions if isinstance(a, SendFile)).data)
    assert dump["unanswered_questions"][0]["text"].startswith("who won")
    assert dump["dialog_state"]["data"]["lastq"].startswith("who won")
    assert "contact_requests" in dump


async def test_an_old_erase_confirmation_does_not_erase(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    actions = await me.event(Button("forget:yes:1000", 1))
    assert any(isinstance(a, Toast) and "expired" in a.text for a in actions)
    async with app.db.unit() as repo:
        assert await repo.users.get(me.user_id) is not None
    await me.send("/forget")
    fresh = next(p for p in me.last.payloads if p.startswith("forget:yes:"))
    await me.press(fresh)
    async with app.db.unit() as repo:
        assert await repo.users.get(me.user_id) is None
