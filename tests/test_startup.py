"""Start-up failures caused by a setting: one line naming the setting, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import PG_URL

TOKEN = "123456:TEST-token"
PG_HOST = PG_URL.split("@", 1)[1].split("/", 1)[0]  # host:port of the test server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in (
        "BOT_TOKEN",
        "DATABASE_URL",
        "REDIS_URL",
        "WEBHOOK_URL",
        "HEALTH_LISTEN",
        "WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(Path(__file__).parent.parent / "knowledge"))


def run(monkeypatch: pytest.MonkeyPatch, capsys, *argv: str, **env: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/test", "nothing accepts connections"),
        (f"postgresql+asyncpg://postgres@{PG_HOST}/kierto_no_such_db", "does not exist"),
        (f"postgresql+asyncpg://kierto_no_such_role:x@{PG_HOST}/test", "user name or password"),
        ("postgresql+asyncpg://postgres@no-such-host.invalid:5432/test", "unknown database host"),
    ],
)
def test_database_problems_are_one_line(monkeypatch, capsys, url: str, expected: str) -> None:
    code, err = run(monkeypatch, capsys, "run", BOT_TOKEN=TOKEN, DATABASE_URL=url)
    assert code == 2
    assert err.count("\n") == 0, err
    assert err.startswith("kierto-bot: cannot start: DATABASE_URL:") and expected in err


def test_an_unwritable_data_directory_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    for path in (tmp_path / "file" / "data" / "bot.db", tmp_path):  # under a file; a folder
        url = f"sqlite+aiosqlite:///{path}"
        code, err = run(monkeypatch, capsys, "run", BOT_TOKEN=TOKEN, DATABASE_URL=url)
        assert code == 2 and err.count("\n") == 0, err
        assert "DATABASE_URL: cannot create or write the database file" in err


def test_run_without_a_token_says_so_before_the_database(monkeypatch, capsys) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"  # would fail if it were touched
    for command in ("run", "webhook"):
        code, err = run(monkeypatch, capsys, command, DATABASE_URL=url)
        assert (code, err.count("\n")) == (2, 0)
        assert "BOT_TOKEN: required for Telegram" in err


@pytest.mark.parametrize(
    "url", ["localhost:6379", "http://redis:6379", "redis://redis:port/0", "redis://redis/abc"]
)
def test_a_malformed_redis_url_is_one_line(monkeypatch, capsys, url: str) -> None:
    code, err = run(monkeypatch, capsys, "run", BOT_TOKEN=TOKEN, REDIS_URL=url)
    assert (code, err.count("\n")) == (2, 0)
    assert err.startswith("kierto-bot: configuration error: REDIS_URL:")


def test_a_port_in_use_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run(
            monkeypatch,
            capsys,
            "webhook",
            BOT_TOKEN=TOKEN,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            TELEGRAM_API_URL="http://127.0.0.1:1",  # never reached: the port fails first
            WEBHOOK_URL="https://bot.example.org/tg",
            WEBHOOK_SECRET="s" * 20,
            WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        )
    assert (code, err.count("\n")) == (2, 0), err
    assert err.startswith("kierto-bot: cannot start: WEBHOOK_LISTEN: that port is already in use")
