"""`kierto-bot chat`: staff walk the whole compose flow; invitations to others are queued
(for the Telegram runtime to send) and the console says how many."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from tests.adapters.test_console import db_row


def chat(cwd: Path, stdin: str, user: int) -> str:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'chat.db'}", PYTHONUTF8="1", ADMIN_IDS="42"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", str(user), "--lang", "fi"],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def test_staff_compose_in_the_console_queues_the_invitations(tmp_path: Path) -> None:
    for user in (100, 101):  # two people turn invitations on in /settings
        chat(tmp_path, "/settings\n4\n", user)
    steps = [
        "/newevent",
        "Konsolihaaste",
        "5.2. 13-15",
        "Tampere",
        "100",  # (a number of one or two digits would press a console button)
        "1",  # No deadline
        "Tule mukaan.",
        "3",  # Done (no other languages)
        "1",  # Correct: save and preview
        "1",  # Send me a test
        "1",  # Choose recipients
        "7",  # Next (Everyone, 3 groups + 3 languages before it)
        "1",  # Now
        "1",  # Send
    ]
    out = chat(tmp_path, "\n".join(steps) + "\n", 42)
    assert "Esikatselu (English)" in out and "Tule mukaan." in out
    assert "Vastaanottajia nyt: 2 henkilöä" in out
    assert "2 kutsua on jonossa" in out
    assert db_row(tmp_path, "select count(*) from outbox where kind = 'broadcast'") == (2,)
