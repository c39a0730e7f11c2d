"""The back office's settings are checked at start like every other."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


def test_back_office_settings() -> None:
    settings = load_settings(
        _env_file=None, admin_listen="127.0.0.1:8081", admin_url="https://bo.example.fi/"
    )
    assert settings.admin_url == "https://bo.example.fi"
    assert settings.retention_days == 730  # the documented default
    assert load_settings(_env_file=None, admin_url="").admin_url is None


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("admin_listen", "8081", "ADMIN_LISTEN: must be host:port"),
        ("admin_url", "bo.example.fi", "ADMIN_URL: must start with http"),
        ("retention_days", "7", "RETENTION_DAYS"),
    ],
)
def test_bad_back_office_settings(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, **{name: value})
    assert str(error.value).startswith(says)
