"""Throughput of 1, 2 and 3 webhook replicas on PostgreSQL through the balancer, next to
the bare aiogram echo bot, in one run.

    .venv/bin/python bench/replicas_load.py                 # 300 users x 12 updates
    .venv/bin/python bench/replicas_load.py --users 100 --steps 10 --replicas 1 3

The same closed-loop load as bench/telegram_load.py (each simulated user sends its next
update when the bot has answered the last; kierto-bot gets the real conversation: /start,
the company menu, the kartoitus answered with buttons, /help, an FAQ question), through
the fake Bot API in this process. The replicas are real `kierto-bot webhook` processes
(tests/replica_cluster.py) behind the test balancer (tests/balancer.py, in this process
too), on a fresh PostgreSQL database each time, with Redis for the shared flood control
and send budget. Printed: updates/s, reply latency p50/p99, and the CPU per update summed
over the replicas. Flood control and the send rate are lifted (this measures the bot, not
Telegram's limits; see README "Running several replicas" for those).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import telegram_load as load  # noqa: E402

from tests.fake_telegram import FakeTelegram  # noqa: E402
from tests.replica_cluster import Cluster, drop_database, fresh_database  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/8")
LIFTED = {
    "FLOOD_RATE": "1000",
    "FLOOD_BURST": "1000",
    "SEND_RATE": "100000",
    "LOG_LEVEL": "WARNING",
}


async def replicas(n: int, users: int, steps: int) -> load.Result:
    result = load.Result(f"kierto-bot x{n} webhook + PostgreSQL")
    database = await fresh_database("kb_bench")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-replicas-{n}-"))
    try:
        async with FakeTelegram(token=load.TOKEN, record=False, webhook_timeout=60) as fake:
            cluster = await Cluster(
                fake, database, workdir, n=n, redis_url=REDIS, env=LIFTED
            ).start()
            try:
                people = [fake.user(10_000 + i, language_code="fi") for i in range(users)]
                script = load.kierto_script(steps)
                pids = [r.process.pid for r in cluster.replicas if r.process]
                cpu = [load.cpu_time(pid) for pid in pids]
                calls = load.api_calls(fake)
                started = time.monotonic()
                await asyncio.gather(*(load.run_user(fake, p, script, result) for p in people))
                result.seconds = time.monotonic() - started
                result.calls = load.api_calls(fake) - calls
                now = [load.cpu_time(pid) for pid in pids]
                if None not in cpu and None not in now:
                    result.cpu_seconds = sum(b - a for a, b in zip(cpu, now, strict=True))  # type: ignore[operator]
            finally:
                await cluster.close()
    finally:
        await drop_database(database)
    return result


def line(result: load.Result) -> str:
    return (
        f"{result.name:<38} {result.rate:7.0f} updates/s   p50 {result.percentile(0.5):7.1f} ms"
        f"   p99 {result.percentile(0.99):8.1f} ms   ({result.updates} answered, "
        f"{result.failures} unanswered, {result.seconds:.1f} s{load.busy(result)})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    print(
        f"{args.users} users x {args.steps} updates, closed loop; {os.cpu_count()} CPU cores "
        "shared by the bots, PostgreSQL, Redis and this script (fake Telegram + balancer)\n"
    )
    echo = await load.measure(
        "bare aiogram echo bot",
        [sys.executable, "bench/echo_bot.py"],
        {},
        args.users,
        args.steps,
        True,
    )
    print(line(echo), flush=True)
    results = []
    for n in args.replicas:
        result = await replicas(n, args.users, args.steps)
        results.append(result)
        print(line(result), flush=True)
    if echo.rate:
        print()
        for result in results:
            print(f"{result.name:<38} {result.rate / echo.rate:6.0%} of the echo bot's throughput")


if __name__ == "__main__":
    asyncio.run(main())
