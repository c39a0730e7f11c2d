"""Flood control and the outgoing send budget, with Redis when there is one.

Flood control: each user has a token bucket, `burst` updates at once, refilled at `rate`
per second. An update that finds the bucket empty is not handled; the first such update of
a flood gets one notice, the rest are dropped quietly, and other users are not affected.
A person's pace is judged by the *messages' own Telegram dates* (`at`), not by when they
reach us: a backlog written at a normal pace while the bot was down (a deploy, an outage)
arrives in one batch and is answered in full. Button presses carry no date of their own and
are judged by the wall clock.

The send budget (`SendRate`) keeps outgoing Bot API calls under Telegram's overall limit
(about 30 messages a second), gives replies to people chatting the next token before any
notice or broadcast message, and stops all sending for a 429's `retry_after`. With
REDIS_URL it is one budget for every process (a bucket, the pause and the interactive
waiters' mark in Redis); without, per process.

Redis is an optimisation and can never silence the bot: on a Redis error both fall back to
the in-process version, say so once in the log (not once per update), and try Redis again a
few seconds later (`RedisHealth`). `state` ("ok" | "unreachable" | "off") goes to /healthz;
`check_redis()` at start prints one clear warning line when Redis is not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
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


INTERACTIVE = 0  # replies to people chatting (the outbox's "reply" priority)


class SendRate:
    """The send budget: at most `rate` Bot API calls a second from this process (a token
    bucket that waits), with two rules on top:

    - **interactive first**: `acquire(priority)` queues by priority (the outbox's: reply 0,
      notice 1, broadcast 2), so a reply to someone chatting always gets the next token
      before any queued notice or invitation; and lower priorities leave `reserve` tokens
      in the bucket, so a reply arriving in the middle of a broadcast finds one at once;
    - **a 429 stops everyone**: `pause(seconds)` (the sender calls it with Telegram's
      `retry_after`) holds every acquirer until then, and the bucket starts again almost
      empty, so the pause is not followed by a burst.
    """

    state = "off"

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        reserve: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        # tokens only interactive replies may take: a fifth of a second's worth, at least 1
        self.reserve = float(
            reserve if reserve is not None else min(self.capacity - 1, max(1, rate // 5))
        )
        self.clock = clock
        self.tokens = self.capacity
        self.at = clock()
        self.paused_until = 0.0
        self._queue: list[tuple[int, int]] = []  # (priority, arrival): the head goes next
        self._arrivals = itertools.count()
        self._turn = asyncio.Condition()

    async def acquire(self, priority: int = INTERACTIVE) -> None:
        """Wait for a token: the most urgent waiter first, in arrival order within one
        priority, and nobody during a pause."""
        ticket = (priority, next(self._arrivals))
        async with self._turn:
            heapq.heappush(self._queue, ticket)
            try:
                while True:
                    if self._queue[0] != ticket:
                        await self._turn.wait()  # someone more urgent (or earlier) is first
                        continue
                    wait = await self._take(priority)
                    if wait <= 0:
                        heapq.heappop(self._queue)
                        self._turn.notify_all()  # the next in line may go
                        return
                    # a more urgent arrival wakes us (and goes first); else the wait is over
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._turn.wait()
            except BaseException:
                if ticket in self._queue:  # cancelled while waiting: leave the line
                    self._queue.remove(ticket)
                    heapq.heapify(self._queue)
                    self._turn.notify_all()
                raise

    async def _take(self, priority: int) -> float:
        """Take a token (0), or the seconds until this priority may take one."""
        return self._take_local(priority)

    def _take_local(self, priority: int) -> float:
        now = self.clock()
        if now < self.paused_until:
            return self.paused_until - now
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        need = 1 + (self.reserve if priority > INTERACTIVE else 0)
        if self.tokens >= need:
            self.tokens -= 1
            return 0.0
        return (need - self.tokens) / self.rate

    async def hold(self) -> None:
        """Just before a request goes out: wait out a pause this process knows of (a
        request that took its token just before a 429 came back must not go inside it)."""
        # a loop, not one sleep: a longer 429 may come while this one is waited out
        while (wait := self.paused_until - self.clock()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    async def pause(self, seconds: float) -> None:
        """Telegram answered 429: nobody sends for `seconds` (a longer pause wins)."""
        self._pause_local(seconds)

    def _pause_local(self, seconds: float) -> None:
        until = self.clock() + seconds
        if until <= self.paused_until:
            return
        if self.paused_until <= self.clock():
            log.warning("Telegram asked to wait %.1f s (429): all sending pauses", seconds)
        self.paused_until = until
        # start again with little in the bucket: no burst right after a flood wait
        self.tokens = min(self.tokens, 1 + self.reserve)
        self.at = until

    async def close(self) -> None:
        return None


# KEYS[1]: the budget (a hash: tokens, at, paused, hi). ARGV: rate, capacity, priority,
# reserve. Takes a token and returns 0, or returns how many milliseconds to wait: until a
# 429's pause ends, until there is a token (lower priorities leave `reserve` tokens), or,
# for a lower priority, while an interactive acquirer of any process is waiting (`hi`).
_BUDGET_LUA = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local priority, reserve = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'paused', 'hi')
local paused = tonumber(state[3]) or 0
if now < paused then
  return math.ceil((paused - now) * 1000)
end
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
local hi = tonumber(state[4]) or 0
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
at = math.max(at, now)
local need = 1
if priority > 0 then
  need = 1 + reserve
  if now < hi then
    redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', at)
    return math.ceil((hi - now) * 1000)
  end
end
local wait = 0
if tokens >= need then
  tokens = tokens - 1
else
  wait = math.ceil((need - tokens) / rate * 1000)
  if priority == 0 then
    -- an interactive acquirer waits for this token: lower priorities of every process
    -- hold back until it has it
    redis.call('HSET', KEYS[1], 'hi', now + wait / 1000 + 0.05)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', at)
redis.call('EXPIRE', KEYS[1], 60)
return wait
"""

# KEYS[1]: the budget; ARGV: seconds, reserve. Every process pauses until now + seconds.
_PAUSE_LUA = """
local seconds, reserve = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'paused')
local paused = tonumber(state[2]) or 0
local ends = now + seconds
if ends > paused then
  local tokens = math.min(tonumber(state[1]) or (1 + reserve), 1 + reserve)
  redis.call('HSET', KEYS[1], 'paused', ends, 'tokens', tokens, 'at', ends)
end
redis.call('EXPIRE', KEYS[1], math.ceil(seconds) + 60)
return 0
"""


class RedisSendRate(SendRate):
    """One send budget for every process (a token bucket in Redis, with the pause and the
    interactive-first rule shared too); this process's own bucket while Redis is
    unreachable. Within a process the waiters still queue by priority (`SendRate`)."""

    def __init__(self, url: str, rate: float, key: str = "kierto:send-budget") -> None:
        super().__init__(rate)
        self.health = RedisHealth(url, "the send budget")
        self.key = key
        self._script = self.health.redis.register_script(_BUDGET_LUA)
        self._pause_script = self.health.redis.register_script(_PAUSE_LUA)

    @property
    def state(self) -> str:  # type: ignore[override]
        return self.health.state

    async def _take(self, priority: int) -> float:
        if self.clock() < self.paused_until:  # this process saw the 429 itself
            return self.paused_until - self.clock()
        wait = await self.health.run(
            lambda: self._script(
                keys=[self.key], args=[self.rate, self.capacity, priority, self.reserve]
            )
        )
        if wait is None:
            return self._take_local(priority)
        return int(wait) / 1000

    async def pause(self, seconds: float) -> None:
        self._pause_local(seconds)
        await self.health.run(
            lambda: self._pause_script(keys=[self.key], args=[seconds, self.reserve])
        )

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
