"""Flood control: a fast user is slowed with one notice; others are not affected. The send
budget: replies before broadcast rows, and a 429 that pauses everyone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.throttle import (
    MemoryThrottle,
    RedisSendRate,
    RedisThrottle,
    SendRate,
    Verdict,
    check_redis,
)
from tests.conftest import REDIS_URL, service_missing
from tests.tcp_proxy import TcpProxy


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


# ---------------------------------------------------------------------- backlog by date


async def test_a_backlog_is_judged_by_the_messages_own_dates() -> None:
    """12 messages written one every 2 s while the bot was down arrive at once: all are
    answered. The same 12 really sent at once are a flood."""
    clock = Clock()
    backlog = MemoryThrottle(rate=2.0, burst=8, clock=clock)
    dates = [clock.now - 60 + 2 * i for i in range(12)]
    assert [await backlog.check(1, at) for at in dates] == [Verdict.ALLOW] * 12
    flood = MemoryThrottle(rate=2.0, burst=8, clock=clock)
    verdicts = [await flood.check(1, clock.now) for _ in range(12)]
    assert verdicts.count(Verdict.ALLOW) == 8
    # an out-of-order (earlier) date refills nothing and does not move the clock back
    assert await flood.check(1, clock.now - 30) is Verdict.DROP


async def test_redis_judges_by_date_too(redis_throttle: RedisThrottle) -> None:
    redis_throttle.rate, redis_throttle.burst = 2.0, 8
    dates = [1_700_000_000 + 2 * i for i in range(12)]
    assert [await redis_throttle.check(3, at) for at in dates] == [Verdict.ALLOW] * 12
    assert redis_throttle.state == "ok"


# ---------------------------------------------------------------------- Redis unreachable


async def test_unreachable_redis_falls_back_and_says_so_once(caplog) -> None:
    throttle = RedisThrottle("redis://127.0.0.1:1/0", rate=2.0, burst=3)
    budget = RedisSendRate("redis://127.0.0.1:1/0", rate=1000)
    try:
        verdicts = [await throttle.check(1) for _ in range(5)]
        assert verdicts == [Verdict.ALLOW] * 3 + [Verdict.NOTIFY, Verdict.DROP]
        for _ in range(3):
            await budget.acquire()  # does not hang, does not raise
        assert throttle.state == budget.state == "unreachable"
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 2  # once for flood control, once for the budget
        assert await check_redis("redis://127.0.0.1:1/0") == "unreachable"
        assert await check_redis(None) == "off"
    finally:
        await throttle.close()
        await budget.close()


async def test_redis_cut_mid_run_falls_back_then_comes_back(redis_throttle, monkeypatch) -> None:
    import bot.throttle as throttle_module

    monkeypatch.setattr(throttle_module, "REDIS_RETRY", 0.0)
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    db = REDIS_URL.rsplit("/", 1)[1]
    proxy = await TcpProxy(host, int(port)).start()
    throttle = RedisThrottle(
        f"redis://127.0.0.1:{proxy.port}/{db}", rate=0.01, burst=2, prefix=redis_throttle.prefix
    )
    budget = RedisSendRate(f"redis://127.0.0.1:{proxy.port}/{db}", rate=1000, key="test:b")
    try:
        assert await throttle.check(5) is Verdict.ALLOW
        await budget.acquire()
        assert throttle.state == budget.state == "ok"
        proxy.cut()
        assert await throttle.check(6) is Verdict.ALLOW  # answered from this process
        await budget.acquire()
        assert throttle.state == budget.state == "unreachable"
        proxy.restore()
        assert await throttle.check(5) is Verdict.ALLOW  # Redis's bucket again: 1 left
        assert throttle.state == "ok"
        assert await throttle.check(5) is Verdict.NOTIFY
    finally:
        await throttle.close()
        await budget.close()
        await proxy.stop()


async def test_the_send_budget_is_shared_through_redis(redis_throttle) -> None:
    key = f"{redis_throttle.prefix}budget"
    first, second = RedisSendRate(REDIS_URL, 5, key), RedisSendRate(REDIS_URL, 5, key)
    try:
        for rate in (first, second, first, second, first):
            await rate.acquire()  # the 5 tokens of one shared bucket
        assert await second._take(0) > 0  # empty for both now
    finally:
        await first.close()
        await second.close()


# ---------------------------------------------------------------------- the send budget


async def test_a_429_pause_holds_every_priority_and_leaves_no_burst_after_it() -> None:
    clock = Clock()
    budget = SendRate(10, burst=10, reserve=2, clock=clock)
    assert budget._take_local(2) == 0  # a full bucket: anyone may take
    await budget.pause(3)
    assert budget._take_local(0) == pytest.approx(3)  # a reply waits too
    assert budget._take_local(2) == pytest.approx(3)
    await budget.pause(1)  # a shorter pause does not shorten the longer one
    clock.now += 2
    assert budget._take_local(0) == pytest.approx(1)
    clock.now += 1
    # the bucket starts again with the reserve and one token, not the 10 it could hold
    assert budget._take_local(0) == 0
    assert budget._take_local(2) > 0  # what is left is the replies' reserve
    assert budget._take_local(0) == 0
    assert budget._take_local(0) == 0
    assert budget._take_local(0) > 0


async def test_a_request_holding_a_token_waits_out_a_pause_begun_since() -> None:
    budget = SendRate(10)
    await budget.acquire()
    await budget.hold()  # no pause: at once
    await budget.pause(2)
    held = asyncio.create_task(budget.hold())
    await asyncio.sleep(0.05)
    assert not held.done()
    await asyncio.wait_for(held, 10)
    assert budget.clock() >= budget.paused_until


async def test_replies_take_the_next_token_before_queued_broadcast_rows() -> None:
    budget = SendRate(50, burst=1, reserve=0)
    await budget.acquire()  # the bucket is empty now
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await budget.acquire(priority)
        order.append(name)

    waiting = [asyncio.create_task(take(f"broadcast {i}", 2)) for i in range(3)]
    await asyncio.sleep(0)  # they are in line
    waiting.append(asyncio.create_task(take("notice", 1)))
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(take("reply", 0)))
    await asyncio.gather(*waiting)
    assert order == ["reply", "notice", "broadcast 0", "broadcast 1", "broadcast 2"]


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    budget = SendRate(50, burst=1, reserve=0)
    await budget.acquire()
    first = asyncio.create_task(budget.acquire(0))
    second = asyncio.create_task(budget.acquire(2))
    await asyncio.sleep(0)
    first.cancel()
    await second  # not stuck behind the cancelled one
    assert budget._queue == []


async def test_a_429_in_one_process_pauses_the_others_through_redis(redis_throttle) -> None:
    key = f"{redis_throttle.prefix}budget"
    first, second = RedisSendRate(REDIS_URL, 1000, key), RedisSendRate(REDIS_URL, 1000, key)
    try:
        assert await second._take(2) == 0
        await first.pause(30)
        assert await second._take(0) > 25  # seconds: this process saw no 429 itself
        assert await second._take(2) > 25
        assert second.state == "ok"
    finally:
        await first.close()
        await second.close()


async def test_an_interactive_waiter_holds_back_other_processes_broadcasts(redis_throttle) -> None:
    key = f"{redis_throttle.prefix}budget"
    replies, broadcasts = RedisSendRate(REDIS_URL, 5, key), RedisSendRate(REDIS_URL, 5, key)
    redis = replies.health.redis
    try:
        assert await broadcasts._take(2) == 0
        # another process's reply is waiting for a token (its mark), though tokens are there
        now = float((await redis.time())[0])
        await redis.hset(key, mapping={"tokens": 5, "at": now, "hi": now + 60})
        assert await broadcasts._take(2) > 30  # holds back
        assert await replies._take(0) == 0  # the reply takes one at once
        await redis.hset(key, "hi", 0)
        assert await broadcasts._take(2) == 0
    finally:
        await replies.close()
        await broadcasts.close()
