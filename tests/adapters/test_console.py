"""The console door: `kierto-bot chat` as a real process with piped input, and
`ConsoleDoor.render` / `event_for` on their own."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleDoor
from bot.config import Settings
from dialogs.actions import Btn, Edit, Send, SendFile, Toast
from dialogs.events import Button, Command, Event, Sender, Text

# --------------------------------------------------------------------------- the real command


def run_chat(
    cwd: Path, stdin: str, *args: str, lang: str = "en", user: int = 42
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'chat.db'}", PYTHONUTF8="1")
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", str(user), "--lang", lang, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def turns(transcript: str) -> list[tuple[str, str]]:
    """[(what the user typed, what the bot printed after it)], from the echoed `» ` lines."""
    parts = re.split(r"^» ?(.*)$", transcript, flags=re.M)
    assert parts[0].strip() == "", f"output before the first input: {parts[0]!r}"
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def db_row(cwd: Path, sql: str) -> tuple | None:
    with sqlite3.connect(cwd / "chat.db") as conn:
        return conn.execute(sql).fetchone()


def test_start_greets_numbers_the_buttons_and_a_number_presses_one(tmp_path: Path) -> None:
    out = ok(run_chat(tmp_path, "/start\n1\n"))
    (typed1, reply1), (typed2, reply2) = turns(out)
    assert typed1 == "/start"
    assert "Hi! I am kierto-bot" in reply1 and "I am a bot, not a person" in reply1
    assert "<b>" not in reply1, "HTML is rendered as plain text"
    assert "Who are you?" in reply1
    buttons = re.findall(r"\[(\d+)\] ([^\[\n]+?)(?=\s{3}|$)", reply1, flags=re.M)
    assert buttons == [
        ("1", "🏢 I represent a company"),
        ("2", "🧑 I am looking for a workshop placement"),
        ("3", "👀 Just looking around"),
    ]
    assert typed2 == "1"
    assert "What is your company's name?" in reply2
    # the press reached the store: the user is a company in the kartoitus flow
    assert db_row(tmp_path, "select role from users where id = 42") == ("company",)
    assert db_row(tmp_path, "select flow, step from dialog_states where user_id = 42") == (
        "kartoitus",
        "name",
    )


def test_end_of_input_ends_cleanly(tmp_path: Path) -> None:
    result = run_chat(tmp_path, "")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # the last line needs no newline
    out = ok(run_chat(tmp_path, "/start"))
    assert [t for t, _ in turns(out)] == ["/start"]
    assert "Who are you?" in out


def test_windows_line_endings(tmp_path: Path) -> None:
    out = ok(run_chat(tmp_path, "/start\r\n2\r\n"))
    assert [t for t, _ in turns(out)] == ["/start", "2"]
    assert db_row(tmp_path, "select role from users where id = 42") == ("jobseeker",)


def test_bad_input_gets_friendly_answers_and_the_chat_goes_on(tmp_path: Path) -> None:
    long_line = "x" * 10_000
    out = ok(run_chat(tmp_path, f"/start\n\n{long_line}\n7\n0\n1\n"))
    replies = dict(turns(out)[1:])  # typed -> reply
    assert "That message was empty" in replies[""]
    assert "too long" in replies[long_line] and "4,096" in replies[long_line]
    assert replies["7"].strip() == "(no button 7 here; buttons are 1–3)"
    assert replies["0"].strip() == "(no button 0 here; buttons are 1–3)"
    assert "What is your company's name?" in replies["1"], "the chat went on"
    assert "Traceback" not in out


def test_a_digit_that_is_not_a_number_does_not_crash_the_console(tmp_path: Path) -> None:
    """'²' and '٣' pass str.isdigit(); '²' is no int() and must not end the session."""
    result = run_chat(tmp_path, "/start\n²\n")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0
    # not a button number: it goes to the bot as text, and the bot answers it (with no
    # letters it is no question: the greeting, not "I don't know")
    assert "Ask me anything" in turns(result.stdout)[-1][1]


def test_finnish(tmp_path: Path) -> None:
    out = ok(run_chat(tmp_path, "/start\n1\n", lang="fi"))
    (_, reply1), (_, reply2) = turns(out)
    assert "Hei! Olen kierto-bot" in reply1 and "Olen botti, en ihminen" in reply1
    assert "Kuka olet?" in reply1
    assert "[1] 🏢 Edustan yritystä" in reply1
    assert "Hi!" not in out and "I am a bot" not in out
    assert db_row(tmp_path, "select locale from users where id = 42") == ("fi",)
    assert reply2.strip()


def test_mydata_writes_the_json_document_under_out_and_prints_its_path(tmp_path: Path) -> None:
    out = ok(run_chat(tmp_path, "/start\n1\n/mydata\n", "--out", "exports"))
    reply = turns(out)[-1][1]
    assert "What I store about you" in reply
    match = re.search(r"^📎 file saved: (\S+)(?: — (.*))?$", reply, flags=re.M)
    assert match, reply
    path = tmp_path / match.group(1)
    assert path.parent == tmp_path / "exports"
    assert path.name.endswith("kierto-bot-my-data.json")
    assert match.group(2) == "Everything kierto-bot stores about you"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["user"]["id"] == 42
    assert data["user"]["role"] == "company"
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == [path.name]


def test_two_files_do_not_overwrite_each_other(tmp_path: Path) -> None:
    out = ok(run_chat(tmp_path, "/start\n/mydata\n/mydata\n", "--out", str(tmp_path / "abs")))
    saved = re.findall(r"^📎 file saved: (\S+)", out, flags=re.M)
    assert len(saved) == 2 and saved[0] != saved[1]
    assert all(Path(p).is_file() and Path(p).parent == tmp_path / "abs" for p in saved)


# --------------------------------------------------------------------------- ConsoleDoor itself


def door(tmp_path: Path, user_id: int = 42) -> tuple[ConsoleDoor, io.StringIO]:
    stdout = io.StringIO()
    return ConsoleDoor(
        None,
        user_id=user_id,
        lang="en",
        out_dir=tmp_path / "files",  # type: ignore[arg-type]
        stdin=io.StringIO(""),
        stdout=stdout,
    ), stdout


def take(stdout: io.StringIO) -> str:
    text = stdout.getvalue()
    stdout.seek(0)
    stdout.truncate()
    return text


def kb(*rows: tuple[str, ...]) -> tuple[tuple[Btn, ...], ...]:
    return tuple(tuple(Btn(label, f"p:{label.lower()}") for label in row) for row in rows)


def test_render_send_numbers_buttons_across_rows(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "<b>Pick</b> one &amp; only one", kb(("A", "B"), ("C",)))])
    assert take(out) == "\nPick one & only one\n   [1] A   [2] B\n   [3] C\n"


def test_render_url_button(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "Read", ((Btn("Site", url="https://www.tampere.fi"),),))])
    assert "[1] Site → https://www.tampere.fi" in take(out)


def test_user_text_escaped_by_the_flow_is_shown_as_typed(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "Company: &lt;b&gt;Acme &amp; Co&lt;/b&gt;")])
    assert take(out) == "\nCompany: <b>Acme & Co</b>\n"


def test_edit_that_appends_prints_only_what_was_appended(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "Do you sort waste?", kb(("Yes", "No")))])
    take(out)
    d.render([Edit(42, 1, "Do you sort waste?\n\n✅ Yes")])
    assert take(out) == "   ✅ Yes\n"


def test_edit_with_the_same_text_prints_only_the_new_keyboard(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "Tick what you do:", kb(("Repair", "Rent")))])
    take(out)
    d.render([Edit(42, 1, "Tick what you do:", kb(("✅ Repair", "Rent"), ("Done",)))])
    assert take(out) == "   [1] ✅ Repair   [2] Rent\n   [3] Done\n"


def test_edit_with_a_different_text_prints_it_whole(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "Old text", kb(("A",)))])
    take(out)
    d.render([Edit(42, 1, "New text")])
    assert take(out) == "\n✎ New text\n"
    assert d.current_buttons() is None


def test_numbering_follows_the_newest_message_with_buttons(tmp_path: Path) -> None:
    d, _ = door(tmp_path)
    d.render(
        [
            Send(42, "first", kb(("A1", "A2"))),
            Send(42, "second", kb(("B1",), ("B2",))),
            Send(42, "third, no buttons"),
        ]
    )
    assert d.current_buttons() == (2, ["p:b1", "p:b2"])
    assert d.event_for("2") == Event(Sender(42, 42, "en"), Button("p:b2", 2))
    # the newest keyboard goes away: numbers belong to the one before it again
    d.render([Edit(42, 2, "second")])
    assert d.event_for("2") == Event(Sender(42, 42, "en"), Button("p:a2", 1))
    # an edit that changes an older keyboard changes what the numbers press
    d.render([Edit(42, 1, "first", kb(("A1 ✅", "A2"), ("Done",)))])
    assert d.event_for("3") == Event(Sender(42, 42, "en"), Button("p:done", 1))
    # a new message with buttons takes over
    d.render([Send(42, "fourth", kb(("D",)))])
    assert d.event_for("1").body == Button("p:d", 4)


def test_event_for_text_commands_and_numbers(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    sender = Sender(42, 42, "en")
    assert d.event_for("1") == Event(sender, Text("1")), "no buttons yet: a number is text"
    assert d.event_for("/Start tyopaja") == Event(sender, Command("start", "tyopaja"))
    assert d.event_for("  hello  ") == Event(sender, Text("  hello  "))
    assert d.event_for("") == Event(sender, Text(""))
    d.render([Send(42, "q", kb(("A", "B")))])
    take(out)
    assert d.event_for(" 2 ").body == Button("p:b", 1)
    assert d.event_for("02").body == Button("p:b", 1)
    assert d.event_for("/help").body == Command("help", "")
    assert d.event_for("2 apples") == Event(sender, Text("2 apples"))


@pytest.mark.parametrize("typed", ["3", "0", "99"])
def test_a_number_with_no_such_button(tmp_path: Path, typed: str) -> None:
    d, out = door(tmp_path)
    d.render([Send(42, "q", kb(("A", "B")))])
    take(out)
    assert d.event_for(typed) is None
    assert take(out) == f"   (no button {typed} here; buttons are 1–2)\n"


def test_a_long_number_is_text_not_a_button(tmp_path: Path) -> None:
    """A Y-tunnus typed without its hyphen (8 digits) must reach the bot as text."""
    d, out = door(tmp_path)
    d.render([Send(42, "q", kb(("A", "B")))])
    take(out)
    event = d.event_for("01120389")
    assert event is not None and event.body == Text("01120389")


@pytest.mark.parametrize("typed", ["²", "³", "٣"])
def test_unicode_digits_reach_the_bot_as_text(tmp_path: Path, typed: str) -> None:
    """Digits int() would read but no one types as a button number ("²") are text."""
    d, out = door(tmp_path)
    d.render([Send(42, "q", kb(("A", "B")))])
    take(out)
    event = d.event_for(typed)
    assert event is not None and event.body == Text(typed)
    assert take(out) == ""  # no "(no button … here)" hint either


def test_send_file_is_saved_and_its_path_printed(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render(
        [
            SendFile(42, "photo", b"\x89PNG fake", "chart.png", "<b>Your</b> result"),
            SendFile(42, "document", b"%PDF fake", "report.pdf"),
        ]
    )
    first, second = tmp_path / "files" / "001-chart.png", tmp_path / "files" / "002-report.pdf"
    assert first.read_bytes() == b"\x89PNG fake"
    assert second.read_bytes() == b"%PDF fake"
    assert take(out) == (f"🖼 photo saved: {first} — Your result\n📎 file saved: {second}\n")


def test_toasts_and_messages_to_other_chats(tmp_path: Path) -> None:
    d, out = door(tmp_path)
    d.render([Toast("Saved"), Toast(""), Send(-100500, "New ticket #1")])
    assert take(out) == "   (Saved)\n\n[to chat -100500] New ticket #1\n"


async def test_run_reads_piped_lines_and_renders_the_engine_answers(app, tmp_path: Path) -> None:
    stdout = io.StringIO()
    d = ConsoleDoor(
        app.engine,
        user_id=42,
        lang="en",
        out_dir=tmp_path / "files",
        stdin=io.StringIO("/start\n3\n"),
        stdout=stdout,
    )
    await d.run()
    out = stdout.getvalue()
    assert out.startswith("» /start\n")
    assert "Who are you?" in out and "» 3\n" in out
    async with app.db.unit() as repo:
        user = await repo.users.get(42)
        assert user is not None and user.role == "visitor"
