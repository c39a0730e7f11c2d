"""`Conversation`: drive the engine like a Telegram user, and read what the user would see.

    chat = Conversation(engine, user_id=42, lang="en")
    await chat.send("/start")
    await chat.press("m:company")          # by payload, as the button carries it
    await chat.click("I represent")        # or by (part of) its label
    assert "company's name" in chat.last.text

Messages get ids as a Telegram client would see them; edits change them in place, so
`chat.message(id)` is always the current text and keyboard of a message.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from dialogs.actions import Action, Btn, Edit, Keyboard, Send, SendFile, Toast
from dialogs.engine import Engine
from dialogs.events import Button, Event, Media, ReplyTo, Sender, Text, parse_command

_update_ids = itertools.count(1000)


@dataclass
class Message:
    id: int
    chat_id: int
    text: str
    keyboard: Keyboard = ()

    @property
    def buttons(self) -> list[Btn]:
        return [b for row in self.keyboard for b in row]

    @property
    def payloads(self) -> list[str]:
        return [b.payload for b in self.buttons if b.payload]


@dataclass
class Conversation:
    engine: Engine
    user_id: int = 42
    lang: str | None = "fi"
    chat_id: int | None = None
    chat_type: str = "private"
    messages: dict[int, Message] = field(default_factory=dict)
    files: list[SendFile] = field(default_factory=list)
    toasts: list[Toast] = field(default_factory=list)
    elsewhere: list[Send | Edit] = field(default_factory=list)  # to other chats (staff)
    actions: list[Action] = field(default_factory=list)  # of the latest event
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def sender(self) -> Sender:
        return Sender(self.user_id, self.chat_id or self.user_id, self.lang, self.chat_type)

    async def event(self, body, update_id: int | None = -1) -> list[Action]:
        if update_id == -1:
            update_id = next(_update_ids)
        event = Event(self.sender, body, update_id)
        self.actions = await self.engine.handle(event)
        self.apply(self.actions)
        return self.actions

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                if action.chat_id != (self.chat_id or self.user_id):
                    self.elsewhere.append(action)
                    continue
                mid = next(self._ids)
                self.messages[mid] = Message(mid, action.chat_id, action.text, action.keyboard)
            elif isinstance(action, Edit):
                if action.chat_id != (self.chat_id or self.user_id):
                    self.elsewhere.append(action)  # type: ignore[arg-type]
                    continue
                message = self.messages[action.message_id]
                message.text, message.keyboard = action.text, action.keyboard
            elif isinstance(action, SendFile):
                self.files.append(action)
            elif isinstance(action, Toast):
                self.toasts.append(action)

    async def send(self, text: str, reply_to: ReplyTo | None = None) -> list[Action]:
        command = parse_command(text)
        if command is not None:
            from dataclasses import replace

            return await self.event(replace(command, reply_to=reply_to))
        return await self.event(Text(text, reply_to))

    async def send_media(self, kind: str = "sticker") -> list[Action]:
        return await self.event(Media(kind))

    def holder(self, payload: str) -> Message | None:
        """The newest message that carries a button with this payload."""
        for message in sorted(self.messages.values(), key=lambda m: m.id, reverse=True):
            if payload in message.payloads:
                return message
        return None

    async def press(
        self, payload: str, message_id: int | None = None, update_id: int | None = -1
    ) -> list[Action]:
        if message_id is None:
            holder = self.holder(payload)
            message_id = holder.id if holder else self.last.id
        return await self.event(Button(payload, message_id), update_id)

    async def click(self, label: str) -> list[Action]:
        """Press the button whose label contains `label`, on the newest message having one."""
        for message in sorted(self.messages.values(), key=lambda m: m.id, reverse=True):
            for button in message.buttons:
                if label in button.label and button.payload:
                    return await self.press(button.payload, message.id)
        raise AssertionError(f"no button labelled {label!r}; last keyboard: {self.labels}")

    @property
    def last(self) -> Message:
        return self.messages[max(self.messages)]

    @property
    def keyboard_message(self) -> Message:
        """The newest message that has buttons."""
        return next(
            m
            for m in sorted(self.messages.values(), key=lambda m: m.id, reverse=True)
            if m.keyboard
        )

    @property
    def labels(self) -> list[str]:
        return [b.label for b in self.keyboard_message.buttons]

    @property
    def texts(self) -> list[str]:
        """Texts sent by the latest event (new messages and edits)."""
        return [a.text for a in self.actions if isinstance(a, Send | Edit)]

    @property
    def said(self) -> str:
        return "\n".join(self.texts)
