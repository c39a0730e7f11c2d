"""The production shape described by docker-compose.yml, deploy/haproxy.cfg and the
Dockerfile.

There is no Docker engine on the test machines, so these tests read the files: every
service has a health check, the bot waits for healthy PostgreSQL and Redis, can be scaled
behind the balancer, and every variable the bot is given is one it understands. Where the
`docker` command exists, `docker compose config` must accept the file too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_bot_postgres_and_redis_with_health_checks() -> None:
    services = compose()["services"]
    assert set(services) == {"bot", "balancer", "postgres", "redis"}
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
    # the container's health is liveness; readiness (/healthz) is the balancer's
    assert "HEALTHCHECK" in dockerfile and "/livez" in dockerfile
    assert "HEALTH_LISTEN=0.0.0.0:8080" in dockerfile


def test_the_bot_scales_behind_the_balancer() -> None:
    services = compose()["services"]
    bot, balancer = services["bot"], services["balancer"]
    # --scale bot=3 needs replicas without a fixed name or host port
    assert "ports" not in bot and "container_name" not in bot
    assert bot["command"] == ["kierto-bot", "${BOT_MODE:-webhook}"]
    assert bot["environment"]["WEBHOOK_LISTEN"] == "0.0.0.0:8080"
    assert "/livez" in " ".join(bot["healthcheck"]["test"])  # liveness, not readiness
    assert balancer["image"].startswith("haproxy:")
    assert balancer["ports"] == ["8080:8080", "127.0.0.1:8081:8081"]  # webhook; back office
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in balancer["volumes"]


def haproxy() -> str:
    return (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")


def test_the_balancer_checks_each_replica_on_healthz_and_finds_them_in_dns() -> None:
    config = haproxy()
    lines = [line.split("#")[0].strip() for line in config.splitlines()]
    assert "option httpchk GET /healthz" in lines
    assert "http-check expect status 200" in lines
    assert "balance roundrobin" in lines
    template = next(line for line in lines if line.startswith("server-template"))
    _, count, address = template.split()[1:4]
    assert address == "bot:8080" and int(count) >= 3  # the compose service and its port
    checks = next(line for line in lines if line.startswith("default-server"))
    assert "resolvers docker" in checks
    # a draining replica is out within inter + fastinter = 2.5 s, inside DRAIN_SECONDS
    inter, fastinter, fall = (
        re.search(rf"{word} (\d+)(ms|s)?", checks).groups()  # type: ignore[union-attr]
        for word in ("inter", "fastinter", "fall")
    )
    seconds = float(inter[0]) + float(fastinter[0]) / (1000 if fastinter[1] == "ms" else 1)
    assert int(fall[0]) == 2
    drain = float(compose()["services"]["bot"]["environment"]["DRAIN_SECONDS"])
    assert seconds <= drain
    assert "nameserver dns 127.0.0.11:53" in lines  # Docker's DNS


def test_the_balancer_never_resends_a_delivered_request_and_has_timeouts() -> None:
    lines = [line.split("#")[0].strip() for line in haproxy().splitlines()]
    assert "retry-on conn-failure" in lines  # only what never reached a replica
    timeouts = dict(
        re.match(r"timeout (\S+) (\d+)s", line).groups()  # type: ignore[union-attr]
        for line in lines
        if re.match(r"timeout \S+ \d+s$", line)
    )
    assert int(timeouts["http-request"]) <= 10  # slow clients cannot hold connections
    assert int(timeouts["server"]) >= 30  # a replica answers after its commit
    assert "http-request deny deny_status 404 if { path /healthz }" in lines


def test_docker_compose_accepts_the_file() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no docker command on this machine")
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode != 0:
        pytest.skip("docker without the compose plugin on this machine")
    env = {**os.environ, "BOT_TOKEN": "123:abc", "WEBHOOK_URL": "https://x.example/tg"}
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_docker_waits_longer_than_the_bot_s_shutdown_grace() -> None:
    bot = compose()["services"]["bot"]
    grace = float(bot["environment"]["SHUTDOWN_GRACE"])
    stop = bot["stop_grace_period"]
    assert stop.endswith("s") and float(stop[:-1]) > grace
    # the drain is the first part of the grace, at most half of it (bot/adapters/serve.py)
    assert 0 < float(bot["environment"]["DRAIN_SECONDS"]) <= grace / 2
