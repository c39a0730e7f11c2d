"""The production shape described by docker-compose.yml and the Dockerfile.

There is no Docker engine on the test machines, so these tests read the files: every
service has a health check, the bot waits for healthy PostgreSQL and Redis, and every
variable the bot is given is one it understands.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_bot_postgres_and_redis_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"bot", "postgres", "redis"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    depends = services["bot"]["depends_on"]
    assert depends == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_the_bot_gets_only_settings_it_knows() -> None:
    environment = compose()["services"]["bot"]["environment"]
    known = {name.upper() for name in Settings.model_fields}
    assert set(environment) <= known
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert environment["REDIS_URL"].startswith("redis://")


def test_the_image_starts_the_bot_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["kierto-bot", "run"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "HEALTH_LISTEN=0.0.0.0:8080" in dockerfile


def test_docker_waits_longer_than_the_bot_s_shutdown_grace() -> None:
    bot = compose()["services"]["bot"]
    grace = float(bot["environment"]["SHUTDOWN_GRACE"])
    stop = bot["stop_grace_period"]
    assert stop.endswith("s") and float(stop[:-1]) > grace
