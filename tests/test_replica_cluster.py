"""Three real `kierto-bot webhook` replicas on PostgreSQL and Redis behind the test
balancer; the fake Bot API plays Telegram (per-chat order, retries of failed deliveries).

Half of the people have every update delivered to two replicas at once (the balancer's
mirror): they must see exactly what the others see, and their data must be stored once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, service_missing
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.replica_cluster import Cluster, drop_database, fresh_database, leader_holders

FIRST = 710_000
PLAIN = [FIRST + i for i in range(4)]  # delivered once
MIRRORED = [FIRST + 100 + i for i in range(4)]  # every update to two replicas at once


async def redis_or_skip() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        service_missing(f"Redis at {REDIS_URL}", str(exc))
    finally:
        await client.aclose()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    try:
        url = await fresh_database()
    except OSError as exc:
        service_missing("PostgreSQL", str(exc))
    try:
        yield url
    finally:
        await drop_database(url)


def mirrored(body: bytes) -> bool:
    update = json.loads(body)
    for kind in ("message", "callback_query"):
        if kind in update:
            return update[kind]["from"]["id"] in MIRRORED
    return False


async def handled(fake: FakeTelegram, act: Callable[[], object]) -> None:
    """Do `act` (a user's message or press) and wait until Telegram got a 2xx for it: the
    replica answers only after the update's writes are committed and its replies sent."""
    act()
    update_id = fake.last_update_id
    await Cluster.wait(
        lambda: any(
            d.update_id == update_id and d.status is not None and 200 <= d.status < 300
            for d in fake.webhook_deliveries
        ),
        30,
        f"update {update_id}",
    )


async def converse(fake: FakeTelegram, user: FakeUser) -> None:
    """A scripted conversation: greeting, help, the kartoitus with a company name, then
    the first button of the newest question, eight times (whatever the flow asks)."""
    for text in ("/start", "/help", "/kartoitus", "Replica Oy"):
        await handled(fake, lambda t=text: user.send(t))
    for _ in range(8):
        newest = next((m for m in reversed(user.bot_messages) if m.callback_data), None)
        if newest is None:
            await handled(fake, lambda: user.send("ok"))
        else:
            data = newest.callback_data[0]
            await handled(fake, lambda d=data, m=newest: user.press(d, m.message_id))


def transcript(user: FakeUser) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.content, tuple(m.callback_data)) for m in user.bot_messages]


async def test_three_replicas_answer_each_update_once(database: str, tmp_path: Path) -> None:
    await redis_or_skip()
    async with FakeTelegram(webhook_retry_delay=0.2, webhook_timeout=60) as fake:
        cluster = await Cluster(
            fake, database, tmp_path, n=3, redis_url=REDIS_URL, mirror=mirrored
        ).start()
        try:
            users = {uid: fake.user(uid, language_code="en") for uid in PLAIN + MIRRORED}
            await asyncio.gather(*(converse(fake, u) for u in users.values()))
            assert await leader_holders(database) == 1
        finally:
            codes = await cluster.close()
        assert codes == [0, 0, 0]
        logs = cluster.logs()
        assert "Traceback" not in logs, logs[-3000:]
        assert not fake.server_errors

    balancer = cluster.balancer
    assert balancer is not None
    assert len(balancer.sent) == 3  # every replica took deliveries
    # every update of theirs went to two replicas at once (a delivery Telegram retried,
    # say after a timeout on a busy machine, is mirrored again)
    assert balancer.mirrored >= 12 * len(MIRRORED)

    reference = transcript(users[PLAIN[0]])
    assert len(reference) >= 6 and any(data for _, data in reference)
    for uid, user in users.items():
        assert transcript(user) == reference, f"user {uid} saw something else"
    assert fake.unanswered_callbacks() == []

    import asyncpg

    conn = await asyncpg.connect(database.replace("+asyncpg", ""))
    try:
        processed = await conn.fetchval("SELECT count(*) FROM processed_updates")
        companies = await conn.fetch(
            "SELECT user_id, count(*) AS n FROM companies GROUP BY user_id"
        )
    finally:
        await conn.close()
    assert processed == 12 * len(users)
    assert {r["user_id"]: r["n"] for r in companies} == dict.fromkeys(users, 1)
