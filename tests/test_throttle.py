"""Flood control: a fast user is slowed with one notice; others are not affected."""

from __future__ import annotations

import uuid

import pytest

from bot.throttle import MemoryThrottle, RedisThrottle, Verdict
from tests.conftest import REDIS_URL, service_missing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_notifies_once_then_drops_then_recovers() -> None:
    clock = Clock()
    throttle = MemoryThrottle(rate=2.0, burst=3, clock=clock)
    verdicts = [await throttle.check(1) for _ in range(6)]
    assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.NOTIFY, Verdict.DROP, Verdict.DROP]
    assert await throttle.check(2) is Verdict.ALLOW  # another user is unaffected
    clock.now += 0.5  # one token back at 2/s
    assert await throttle.check(1) is Verdict.ALLOW
    assert await throttle.check(1) is Verdict.NOTIFY  # a new flood gets a new notice


@pytest.fixture
async def redis_throttle():
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.ConnectionError) as exc:
        await client.aclose()
        service_missing(f"Redis at {REDIS_URL}", str(exc))
    await client.aclose()
    throttle = RedisThrottle(REDIS_URL, rate=0.5, burst=3, prefix=f"test:{uuid.uuid4().hex}:")
    yield throttle
    await throttle.close()


async def test_redis_bucket_is_shared_and_atomic(redis_throttle: RedisThrottle) -> None:
    second = RedisThrottle(REDIS_URL, rate=0.5, burst=3, prefix=redis_throttle.prefix)
    try:
        verdicts = [
            await redis_throttle.check(7),
            await second.check(7),
            await redis_throttle.check(7),
            await second.check(7),
            await redis_throttle.check(7),
        ]
        assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.NOTIFY, Verdict.DROP]
        assert await second.check(8) is Verdict.ALLOW
    finally:
        await second.close()
