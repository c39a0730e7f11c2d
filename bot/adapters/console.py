"""The console door: the same engine and store in a terminal, no token and no server.

Buttons are shown numbered; typing the number presses that button, any other line is sent
as text (or as a command when it starts with "/"). Photos and documents are written to a
folder and their paths printed. Works interactively and with piped input, ending cleanly
at the end of input.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from dialogs.actions import Action, Edit, Keyboard, Send, SendFile, Toast
from dialogs.engine import Engine
from dialogs.events import Button, Event, Sender, Text, parse_command
from dialogs.store.outbox import decode

TAG_RE = re.compile(r"</?(b|i|u|s|code|pre|a)( [^>]*)?>")


@dataclass
class ConsoleDoor:
    engine: Engine
    user_id: int = 1
    lang: str = "fi"
    out_dir: Path = Path("data/console-files")
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    texts: dict[int, str] = field(default_factory=dict)
    keyboards: dict[int, Keyboard] = field(default_factory=dict)
    next_id: int = 1
    files: int = 0

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()

    def _fmt(self, text: str) -> str:
        if self.stdout.isatty():
            text = re.sub(r"<b>(.*?)</b>", "\x1b[1m\\1\x1b[0m", text, flags=re.S)
            text = re.sub(r"<i>(.*?)</i>", "\x1b[3m\\1\x1b[0m", text, flags=re.S)
        return html.unescape(TAG_RE.sub("", text))

    def _print(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def _print_keyboard(self, keyboard: Keyboard) -> None:
        number = 0
        for row in keyboard:
            cells = []
            for button in row:
                number += 1
                target = f" → {button.url}" if button.url else ""
                cells.append(f"[{number}] {self._fmt(button.label)}{target}")
            self._print("   " + "   ".join(cells))

    def current_buttons(self) -> tuple[int, list[str | None]] | None:
        """The newest message that has buttons, and its payloads in display order."""
        live = [mid for mid, kb in self.keyboards.items() if kb]
        if not live:
            return None
        message_id = max(live)
        return message_id, [b.payload for row in self.keyboards[message_id] for b in row]

    def event_for(self, line: str) -> Event | None:
        sender = Sender(self.user_id, self.user_id, self.lang)
        stripped = line.strip()
        buttons = self.current_buttons()
        if stripped.isascii() and stripped.isdigit() and len(stripped) <= 2 and buttons is not None:
            message_id, payloads = buttons
            index = int(stripped) - 1
            if not 0 <= index < len(payloads):
                self._print(f"   (no button {stripped} here; buttons are 1–{len(payloads)})")
                return None
            payload = payloads[index]
            if payload is None:
                self._print(f"   (button {stripped} opens a link; open it in Telegram)")
                return None
            return Event(sender, Button(payload, message_id))
        command = parse_command(stripped)
        return Event(sender, command if command is not None else Text(line))

    def render(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                message_id = self.next_id
                self.next_id += 1
                self.texts[message_id] = action.text
                self.keyboards[message_id] = action.keyboard
                prefix = "" if action.chat_id == self.user_id else f"[to chat {action.chat_id}] "
                self._print()
                self._print(prefix + self._fmt(action.text))
                self._print_keyboard(action.keyboard)
            elif isinstance(action, Edit):
                old = self.texts.get(action.message_id, "")
                self.texts[action.message_id] = action.text
                self.keyboards[action.message_id] = action.keyboard
                if action.text == old:
                    self._print_keyboard(action.keyboard)
                elif old and action.text.startswith(old):
                    self._print("   " + self._fmt(action.text[len(old) :].strip()))
                    self._print_keyboard(action.keyboard)
                else:
                    self._print()
                    self._print("✎ " + self._fmt(action.text))
                    self._print_keyboard(action.keyboard)
            elif isinstance(action, SendFile):
                self.out_dir.mkdir(parents=True, exist_ok=True)
                self.files += 1
                path = self.out_dir / f"{self.files:03d}-{action.filename}"
                path.write_bytes(action.data)
                label = "🖼 photo" if action.kind == "photo" else "📎 file"
                caption = f" — {self._fmt(action.caption)}" if action.caption else ""
                self._print(f"{label} saved: {path}{caption}")
            elif isinstance(action, Toast) and action.text:
                self._print(f"   ({self._fmt(action.text)})")

    async def deliver_outbox(self) -> None:
        """Show replies written for this user in the back office (the outbox), as the
        Telegram process would send them; other chats' messages stay for it."""
        async with self.engine.db.unit() as repo:
            mine = [m for m in await repo.outbox.due() if m.chat_id == self.user_id]
            actions = []
            for row in mine:
                assert row.id is not None
                if await repo.outbox.claim(row.id):
                    actions.append(decode(row.chat_id, row.action))
                    await repo.outbox.sent(row.id, None)
        self.render(actions)

    async def _readline(self) -> str | None:
        if self.interactive:
            try:
                return await asyncio.to_thread(input, "» ")
            except EOFError:
                return None
        line = await asyncio.to_thread(self.stdin.readline)
        if not line:
            return None
        line = line.rstrip("\r\n")
        self._print(f"» {line}")
        return line

    async def run(self) -> None:
        if self.interactive:
            self._print(
                "kierto-bot console · type /start to begin, a number to press a "
                "button, Ctrl-D to quit."
            )
        while (line := await self._readline()) is not None:
            event = self.event_for(line)
            if event is not None:
                self.render(await self.engine.handle(event))
            await self.deliver_outbox()
        if self.interactive:
            self._print()
