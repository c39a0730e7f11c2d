"""bot/config.py: defaults, parsing, one-line errors that name the variable, exit status 2
from the command line, and a bot token that never shows.

Every test runs in an empty temporary directory with every setting removed from the
environment, so neither the developer's shell nor a `.env` in the project can leak in.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings
from knowledge.loader import DEFAULT_DIR

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_PART = TOKEN.split(":", 1)[1]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return tmp_path


# --------------------------------------------------------------------------- values


def test_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.bot_token is None
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./data/kierto.db"
    assert not s.is_postgres
    assert s.redis_url is None
    assert s.admin_ids == frozenset()
    assert s.staff_chat_id is None
    assert s.default_locale == "fi"
    assert s.knowledge_dir == DEFAULT_DIR
    assert s.webhook_url is None and s.webhook_secret is None
    assert s.webhook_listen == "0.0.0.0:8080"
    assert s.health_listen is None
    assert (s.flood_rate, s.flood_burst, s.send_rate) == (2.0, 8, 25.0)
    assert s.log_level == "INFO"
    assert load_settings(_env_file=None) == s


def test_a_dotenv_in_the_working_directory_is_read(isolated: Path) -> None:
    """Proves the isolation above matters: a .env in the cwd is read by default."""
    (isolated / ".env").write_text("DEFAULT_LOCALE=sv\nADMIN_IDS=5\n", encoding="utf-8")
    assert load_settings().default_locale == "sv"
    assert load_settings().admin_ids == frozenset({5})
    assert Settings(_env_file=None).default_locale == "fi"


def test_environment_overrides_dotenv(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / ".env").write_text("DEFAULT_LOCALE=sv\n", encoding="utf-8")
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    assert load_settings().default_locale == "en"


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("1, 2;3", {1, 2, 3}),
        ("42", {42}),
        (" 7 ,", {7}),
        ("", set()),
        ("-100123, 5", {-100123, 5}),
        ("1;1;1", {1}),
    ],
)
def test_admin_ids_parse(monkeypatch: pytest.MonkeyPatch, raw: str, ids: set[int]) -> None:
    monkeypatch.setenv("ADMIN_IDS", raw)
    assert Settings(_env_file=None).admin_ids == frozenset(ids)


def test_lower_case_variable_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("admin_ids", "1,2")
    assert Settings(_env_file=None).admin_ids == frozenset({1, 2})


def test_token_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", f"  {TOKEN}\n")
    token = Settings(_env_file=None).bot_token
    assert token is not None and token.get_secret_value() == TOKEN


@pytest.mark.parametrize("name", ["BOT_TOKEN", "STAFF_CHAT_ID", "WEBHOOK_URL"])
def test_empty_optional_value_means_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """`NAME=` in a .env copied from a template leaves the setting out; it is no error."""
    monkeypatch.setenv(name, "")
    assert getattr(load_settings(_env_file=None), name.lower()) is None


def test_postgres_url_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://kierto@db:5432/kierto")
    s = Settings(_env_file=None)
    assert s.database_url == "postgresql+asyncpg://kierto@db:5432/kierto"
    assert s.is_postgres


def test_urls_lose_their_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_API_URL", "http://localhost:8081/")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.fi/hook/")
    s = Settings(_env_file=None)
    assert s.telegram_api_url == "http://localhost:8081"
    assert s.webhook_url == "https://bot.example.fi/hook"


def test_listen_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_LISTEN", "127.0.0.1:9000")
    monkeypatch.setenv("HEALTH_LISTEN", "[::1]:8081")
    s = Settings(_env_file=None)
    assert (s.webhook_listen, s.health_listen) == ("127.0.0.1:9000", "[::1]:8081")


def test_empty_webhook_listen_is_never_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """WEBHOOK_LISTEN is a `str` the webhook server splits into host and port: an empty
    value must give the default or a ConfigError, not None."""
    monkeypatch.setenv("WEBHOOK_LISTEN", "")
    try:
        value = load_settings(_env_file=None).webhook_listen
    except ConfigError as exc:
        assert str(exc).startswith("WEBHOOK_LISTEN: ")
    else:
        assert value == "0.0.0.0:8080"


# --------------------------------------------------------------------------- errors

BAD = [
    ("ADMIN_IDS", "1, two, 3"),
    ("ADMIN_IDS", "1.5"),
    ("ADMIN_IDS", "@kierto_admin"),
    ("TELEGRAM_API_URL", "api.telegram.org"),
    ("TELEGRAM_API_URL", "ftp://api.telegram.org"),
    ("BOT_TOKEN", "not-a-token"),
    ("BOT_TOKEN", "123456789"),
    ("BOT_TOKEN", "bot:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
    ("BOT_TOKEN", "123456789:"),
    ("DATABASE_URL", "mysql://kierto@db/kierto"),
    ("DATABASE_URL", "sqlite:///data/kierto.db"),
    ("WEBHOOK_LISTEN", "0.0.0.0"),
    ("WEBHOOK_LISTEN", "0.0.0.0:http"),
    ("WEBHOOK_LISTEN", "0.0.0.0:70000"),
    ("HEALTH_LISTEN", "8081"),
    ("WEBHOOK_SECRET", "not allowed!"),
    ("DEFAULT_LOCALE", "de"),
    ("STAFF_CHAT_ID", "kierto-staff"),
    ("FLOOD_RATE", "0"),
    ("LOG_LEVEL", "LOUD"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_bad_value_is_a_one_line_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    assert len(message) > len(name) + 10, "says what is wrong"
    assert "Value error" not in message and "pydantic" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_messages_say_what_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {
        ("ADMIN_IDS", "1, two"): "ADMIN_IDS: 'two' is not a Telegram user id",
        ("TELEGRAM_API_URL", "api.telegram.org"): "TELEGRAM_API_URL: must start with http://",
        ("DATABASE_URL", "mysql://x/y"): "DATABASE_URL: use sqlite+aiosqlite:///",
        ("WEBHOOK_LISTEN", "0.0.0.0"): "WEBHOOK_LISTEN: must be host:port",
        ("DEFAULT_LOCALE", "de"): "DEFAULT_LOCALE: Input should be 'fi', 'en' or 'sv'",
        ("BOT_TOKEN", "nope"): "BOT_TOKEN: does not look like a bot token from @BotFather",
    }
    for (name, value), start in expected.items():
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match="^" + re.escape(start)):
            load_settings(_env_file=None)
        monkeypatch.delenv(name)


def test_bad_value_in_dotenv_is_reported_too(isolated: Path) -> None:
    (isolated / ".env").write_text("WEBHOOK_LISTEN=8080\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^WEBHOOK_LISTEN: "):
        load_settings()


@pytest.mark.parametrize(("name", "value"), BAD)
def test_cli_exits_with_status_2_and_one_line(
    monkeypatch: pytest.MonkeyPatch, isolated: Path, capsys, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["chat"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"kierto-bot: configuration error: {name}: ")
    assert err.endswith("\n")
    assert not (isolated / "data").exists(), "nothing was started"


def test_cli_reads_the_dotenv_of_the_working_directory(isolated: Path, capsys) -> None:
    (isolated / ".env").write_text("DEFAULT_LOCALE=de\n", encoding="utf-8")
    assert main(["chat"]) == 2
    assert capsys.readouterr().err.startswith("kierto-bot: configuration error: DEFAULT_LOCALE:")


# --------------------------------------------------------------------------- the token


def test_token_is_not_in_str_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_SECRET", "hook-secret-value")
    s = load_settings(_env_file=None)
    assert s.bot_token is not None and s.bot_token.get_secret_value() == TOKEN
    for shown in (
        str(s),
        repr(s),
        f"{s}",
        str(s.model_dump()),
        s.model_dump_json(),
        str(s.bot_token),
        repr(s.bot_token),
    ):
        assert SECRET_PART not in shown
        assert "hook-secret-value" not in shown


@pytest.mark.parametrize(
    "bad",
    [
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "bot123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        '"123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"',
    ],
)
def test_bad_token_is_not_in_the_error(monkeypatch: pytest.MonkeyPatch, capsys, bad: str) -> None:
    monkeypatch.setenv("BOT_TOKEN", bad)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert SECRET_PART not in str(caught.value)
    assert SECRET_PART not in repr(caught.value)
    assert main(["chat"]) == 2
    out, err = capsys.readouterr()
    assert SECRET_PART not in out + err


def test_token_is_not_in_log_output(
    monkeypatch: pytest.MonkeyPatch, isolated: Path, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    """A whole console session with a token set and every logger at DEBUG."""
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{isolated / 'bot.db'}")
    monkeypatch.setattr(sys, "stdin", io.StringIO("/start\n/settings\nhello\n"))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("kierto-bot").debug("settings: %s", load_settings())
    logging.getLogger("kierto-bot").debug("settings: %r", load_settings())
    assert main(["chat", "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    assert "I am a bot" in out
    assert caplog.records, "something was logged"
    for text in (caplog.text, out, err, *(str(r.args) for r in caplog.records)):
        assert SECRET_PART not in text


def test_a_misspelt_name_in_dotenv_stops_with_a_suggestion(isolated: Path, capsys) -> None:
    (isolated / ".env").write_text("BOT_TOKN=123:abc\nPOSTGRES_PASSWORD=x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^BOT_TOKN: .*did you mean BOT_TOKEN\?$"):
        load_settings()
    assert main(["chat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kierto-bot: configuration error: BOT_TOKN: ")
    assert len(err.splitlines()) == 1


def test_unrelated_names_in_dotenv_are_left_alone(isolated: Path) -> None:
    (isolated / ".env").write_text("POSTGRES_PASSWORD=x\nADMIN_IDS=5\n", encoding="utf-8")
    assert load_settings().admin_ids == frozenset({5})


def test_a_misspelt_environment_variable_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, isolated: Path, capsys
) -> None:
    monkeypatch.setenv("DATABSE_URL", "postgresql+asyncpg://x/y")
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL  # not taken, but not fatal
    err = capsys.readouterr().err
    assert "DATABSE_URL" in err and "did you mean DATABASE_URL?" in err
