"""Flood control and the outgoing send rate.

Each user has a token bucket: `burst` updates at once, refilled at `rate` per second. An
update that finds the bucket empty is not handled; the first such update of a flood gets
one notice, the rest are dropped quietly, and other users are not affected. With REDIS_URL
the buckets live in Redis (one atomic script), so several bot processes share them.

`SendRate` keeps all outgoing Bot API calls of this process under Telegram's overall limit
(about 30 messages a second).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
    clock: Callable[[], float] = time.monotonic
    buckets: dict[int, _Bucket] = field(default_factory=dict)

    async def check(self, user_id: int) -> Verdict:
        now = self.clock()
        bucket = self.buckets.get(user_id)
        if bucket is None:
            if len(self.buckets) > 50_000:
                self._forget_idle(now)
            bucket = self.buckets[user_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
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


# KEYS[1]: the user's bucket; ARGV: rate per second, burst. Redis's own clock keeps several
# processes consistent. Returns 0 allow, 1 notify, 2 drop.
_LUA = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'notified')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local notified = state[3] == '1'
tokens = math.min(burst, tokens + (now - at) * rate)
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
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now, 'notified', notified and '1' or '0')
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 5)
return verdict
"""


class RedisThrottle:
    def __init__(
        self, url: str, rate: float = 2.0, burst: int = 8, prefix: str = "kierto:flood:"
    ) -> None:
        from redis.asyncio import Redis

        self.redis: Any = Redis.from_url(url)
        self.rate = rate
        self.burst = burst
        self.prefix = prefix
        self._script = self.redis.register_script(_LUA)

    async def check(self, user_id: int) -> Verdict:
        verdict = await self._script(keys=[f"{self.prefix}{user_id}"], args=[self.rate, self.burst])
        return Verdict(int(verdict))

    async def close(self) -> None:
        await self.redis.aclose()


Throttle = MemoryThrottle | RedisThrottle


def make_throttle(redis_url: str | None, rate: float, burst: int) -> Throttle:
    if redis_url:
        return RedisThrottle(redis_url, rate, burst)
    return MemoryThrottle(rate, burst)


class SendRate:
    """At most `rate` calls a second from this process (a token bucket that waits)."""

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
