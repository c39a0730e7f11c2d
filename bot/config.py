"""Typed configuration from the environment or a `.env` file, validated once at start.

A wrong value stops the program with one line that names the variable and says what is
wrong (exit status 2); the token is a `SecretStr` and never appears in logs or errors.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/kierto.db"
TELEGRAM_API_URL = "https://api.telegram.org"


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message is one line for a human."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    staff_chat_id: int | None = None
    bot_username: str = ""  # without @; the haastepaja check-in QR code links to t.me/<it>
    default_locale: Literal["fi", "en", "sv"] = "fi"
    knowledge_dir: Path = Path(__file__).resolve().parent.parent / "knowledge"

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0:8080"
    health_listen: str | None = None  # polling mode: serve /healthz here (host:port)

    # The coordinators' back office: where it listens (host:port; in the same process as
    # the webhook when set) and the address people open, used in /admin's sign-in links.
    admin_listen: str | None = None
    admin_url: str | None = None
    # Assessments, tickets, FAQ misses, votes, interests and audit entries older than this
    # are removed (companies and users with nothing left are removed with them).
    retention_days: int = Field(default=730, ge=30, le=3650)

    # Flood control: a user may send `flood_burst` updates at once, then one per
    # `1 / flood_rate` seconds; above that the bot answers once and drops the excess.
    flood_rate: float = Field(default=2.0, gt=0)
    flood_burst: int = Field(default=8, ge=1)
    send_rate: float = Field(default=25.0, gt=0)  # messages/s to Telegram, under its ~30/s
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Reliability. SIGTERM waits at most `shutdown_grace` seconds for the updates in hand
    # (their replies are in the outbox and go out at the next start); keep it under the
    # orchestrator's kill timeout (docker-compose `stop_grace_period`).
    shutdown_grace: float = Field(default=8.0, ge=0)
    # A webhook replica's first seconds of that grace (at most half of it): /healthz
    # answers 503 while requests are still taken, until the balancer has taken the
    # replica out (HAProxy: two failed checks, 2 s + 0.5 s in deploy/haproxy.cfg).
    drain_seconds: float = Field(default=3.0, ge=0)
    # While the database is unreachable polling pauses, retrying after 1, 2, 4… seconds
    # up to this; the webhook answers 503 with this as Retry-After.
    db_retry_max: float = Field(default=30.0, gt=0)
    # The webhook server: seconds for a request's headers and for its body, open
    # connections at once (Telegram itself uses up to 40).
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_connections: int = Field(default=200, ge=1)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None:
                bot_id, _, secret = value.partition(":")
                if not bot_id.isdigit() or not secret:
                    raise ValueError("does not look like a bot token from @BotFather (123456:ABC…)")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(
                    f"{bad[0]!r} is not a Telegram user id (comma-separated integers expected)"
                )
            return frozenset(int(p) for p in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("staff_chat_id", "webhook_url", "redis_url", "admin_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_api_url", "webhook_url", "admin_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("use redis://host:6379/0 (or rediss:// or unix://)")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is not a number from 1 to 65535") from None
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("no host: use redis://host:6379/0")
        db = parts.path.strip("/")
        if parts.scheme != "unix" and db and not db.isdigit():
            raise ValueError("the database after the last / must be a number, e.g. /0")
        del port
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(("postgres://", "postgresql://")):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://…")
        return value

    @field_validator("webhook_listen", "health_listen", "admin_listen", mode="before")
    @classmethod
    def _listen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not str(value).strip():
            return "0.0.0.0:8080" if info.field_name == "webhook_listen" else None
        value = str(value).strip()
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 0.0.0.0:8080")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()):
            raise ValueError(
                "use 16 to 256 characters A-Z, a-z, 0-9, _ and - (Telegram "
                "allows only these; shorter secrets are too easy to guess)"
            )
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def misspelt(names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, the setting it was probably meant to be) for names that are not settings
    but nearly are: BOT_TOKN, DATABSE_URL. Unrelated names (POSTGRES_PASSWORD) pass."""
    known = [field.upper() for field in Settings.model_fields]
    found = []
    for name in names:
        if name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.85)
        if close:
            found.append((name, close[0]))
    return found


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, turning the first problem into a `ConfigError`.

    A misspelt name is a problem too: in `.env` (our own file) it stops the program; in
    the environment, which holds many other programs' variables, it is a warning."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    if isinstance(env_file, str | Path) and Path(env_file).is_file():
        for name, meant in misspelt(dotenv_values(env_file)):
            raise ConfigError(
                f"{name}: not a setting kierto-bot knows (in {env_file}); did you mean {meant}?"
            )
    for name, meant in misspelt(os.environ):
        print(
            f"kierto-bot: warning: the environment variable {name} is not a setting "
            f"kierto-bot knows; did you mean {meant}?",
            file=sys.stderr,
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
