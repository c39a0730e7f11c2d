"""Flood control and the outgoing send budget, with Redis when there is one.

Flood control: each user has a token bucket, `burst` updates at once, refilled at `rate`
per second. An update that finds the bucket empty is not handled; the first such update of
a flood gets one notice, the rest are dropped quietly, and other users are not affected.
A person's pace is judged by the *messages' own Telegram dates* (`at`), not by when they
reach us: a backlog written at a normal pace while the bot was down (a deploy, an outage)
arrives in one batch and is answered in full. Button presses carry no date of their own and
are judged by the wall clock.

The send budget (`SendRate`) keeps outgoing Bot API calls under Telegram's overall limit
(about 30 messages a second). With REDIS_URL it is one budget for every process (a bucket
in Redis); without, per process.

Redis is an optimisation and can never silence the bot: on a Redis error both fall back to
the in-process version, say so once in the log (not once per update), and try Redis again a
few seconds later (`RedisHealth`). `state` ("ok" | "unreachable" | "off") goes to /healthz;
`check_redis()` at start prints one clear warning line when Redis is not there.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_TIMEOUT = 0.5  # seconds: a hung Redis must not hold an update longer than this
REDIS_RETRY = 5.0  # seconds before Redis is tried again after a failure


class Verdict(enum.Enum):
    ALLOW = 0
    NOTIFY = 1  # over the limit: tell the user once
    DROP = 2  # over the limit, already told


@dataclass
class _Bucket:
    tokens: float
    at: float
    notified: bool = False


@dataclass
class MemoryThrottle:
    rate: float = 2.0
    burst: int = 8
    clock: Callable[[], float] = time.time
    buckets: dict[int, _Bucket] = field(default_factory=dict)
    state: str = "off"

    async def check(self, user_id: int, at: float | None = None) -> Verdict:
        """`at`: when the person sent it (Telegram's `date`, epoch seconds); now if None."""
        now = self.clock() if at is None else at
        bucket = self.buckets.get(user_id)
        if bucket is None:
            if len(self.buckets) > 50_000:
                self._forget_idle(now)
            bucket = self.buckets[user_id] = _Bucket(float(self.burst), now)
        # a message dated before the last one (dates are whole seconds) refills nothing
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.at = max(bucket.at, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.notified = False
            return Verdict.ALLOW
        if bucket.notified:
            return Verdict.DROP
        bucket.notified = True
        return Verdict.NOTIFY

    def _forget_idle(self, now: float) -> None:
        full = self.burst / self.rate
        for user_id in [u for u, b in self.buckets.items() if now - b.at > full]:
            del self.buckets[user_id]

    async def close(self) -> None:
        return None


class RedisHealth:
    """One Redis connection's health: failures fall back, logged once per outage."""

    def __init__(self, url: str, what: str) -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.what = what
        self.down_since: float | None = None
        self._retry_at = 0.0

    @property
    def state(self) -> str:
        return "ok" if self.down_since is None else "unreachable"

    async def run(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """`call()`'s result, or None when Redis failed or is resting after a failure."""
        now = time.monotonic()
        if self.down_since is not None and now < self._retry_at:
            return None
        try:
            result = await call()
        except Exception as exc:  # redis' errors, OSError, timeouts: all mean "not now"
            if self.down_since is None:
                self.down_since = now
                log.warning(
                    "Redis unreachable (%s): %s falls back to this process until it is back",
                    type(exc).__name__,
                    self.what,
                )
            self._retry_at = now + REDIS_RETRY
            return None
        if self.down_since is not None:
            log.warning(
                "Redis is back after %.0f s: %s is shared again",
                now - self.down_since,
                self.what,
            )
            self.down_since = None
        return result

    async def close(self) -> None:
        await self.redis.aclose()


# KEYS[1]: the user's bucket; ARGV: rate per second, burst, the message's date (0: Redis's
# own clock, which keeps several processes consistent). Returns 0 allow, 1 notify, 2 drop.
_FLOOD_LUA = """
local rate, burst, date = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = date
if date == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'notified')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local notified = state[3] == '1'
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local verdict
if tokens >= 1 then
  tokens = tokens - 1
  notified = false
  verdict = 0
elseif notified then
  verdict = 2
else
  notified = true
  verdict = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', math.max(at, now),
  'notified', notified and '1' or '0')
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 5)
return verdict
"""


class RedisThrottle:
    """Flood control shared by every process through Redis; the in-process buckets
    while Redis is unreachable."""

    def __init__(
        self, url: str, rate: float = 2.0, burst: int = 8, prefix: str = "kierto:flood:"
    ) -> None:
        self.health = RedisHealth(url, "flood control")
        self.redis = self.health.redis
        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self.fallback = MemoryThrottle(rate, burst)
        self._script = self.redis.register_script(_FLOOD_LUA)

    @property
    def state(self) -> str:
        return self.health.state

    async def check(self, user_id: int, at: float | None = None) -> Verdict:
        verdict = await self.health.run(
            lambda: self._script(
                keys=[f"{self.prefix}{user_id}"], args=[self.rate, self.burst, at or 0]
            )
        )
        if verdict is None:
            return await self.fallback.check(user_id, at)
        return Verdict(int(verdict))

    async def close(self) -> None:
        await self.health.close()


Throttle = MemoryThrottle | RedisThrottle


def make_throttle(redis_url: str | None, rate: float, burst: int) -> Throttle:
    if redis_url:
        return RedisThrottle(redis_url, rate, burst)
    return MemoryThrottle(rate, burst)


class SendRate:
    """At most `rate` calls a second from this process (a token bucket that waits)."""

    state = "off"

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self.tokens = self.capacity
        self.at = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)

    async def close(self) -> None:
        return None


# KEYS[1]: the budget; ARGV: rate, capacity. Takes a token if there is one and returns 0,
# else returns how many milliseconds until there is one.
_BUDGET_LUA = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 60)
return wait
"""


class RedisSendRate(SendRate):
    """One send budget for every process (a token bucket in Redis); this process's own
    bucket while Redis is unreachable."""

    def __init__(self, url: str, rate: float, key: str = "kierto:send-budget") -> None:
        super().__init__(rate)
        self.health = RedisHealth(url, "the send budget")
        self.key = key
        self._script = self.health.redis.register_script(_BUDGET_LUA)

    @property
    def state(self) -> str:  # type: ignore[override]
        return self.health.state

    async def acquire(self) -> None:
        while True:
            wait = await self.health.run(
                lambda: self._script(keys=[self.key], args=[self.rate, self.capacity])
            )
            if wait is None:
                await super().acquire()
                return
            if int(wait) == 0:
                return
            await asyncio.sleep(int(wait) / 1000)

    async def close(self) -> None:
        await self.health.close()


def make_send_rate(redis_url: str | None, rate: float) -> SendRate:
    return RedisSendRate(redis_url, rate) if redis_url else SendRate(rate)


async def check_redis(url: str | None) -> str:
    """At start: "off" (no REDIS_URL), "ok", or one warning line and "unreachable"."""
    if not url:
        return "off"
    from redis.asyncio import Redis

    client: Any = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
        return "ok"
    except Exception as exc:
        log.warning(
            "REDIS_URL: Redis not reachable (%s); flood control and the send budget run "
            "per process until it is",
            type(exc).__name__,
        )
        return "unreachable"
    finally:
        await client.aclose()
