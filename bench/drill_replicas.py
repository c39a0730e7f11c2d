"""Drill: three webhook replicas under steady traffic while things break.

    .venv/bin/python bench/drill_replicas.py                 # every scenario, 20 s of traffic
    .venv/bin/python bench/drill_replicas.py --short         # replica kill only, ~3 s (a test)
    .venv/bin/python bench/drill_replicas.py --only pg-cut --users 100 --rate 20
    .venv/bin/python bench/drill_replicas.py --only rolling --baseline /tmp/old-checkout

Not a test. Real `kierto-bot webhook` processes (tests/replica_cluster.py) on a fresh
PostgreSQL database and Redis, behind the test balancer (tests/balancer.py); the fake Bot
API in this process plays Telegram: it delivers each chat's updates one at a time and
retries a non-2xx or timed-out delivery. Every person first says /start; then the traffic
is a steady stream of questions the FAQ cannot answer, each followed by /cancel (which
closes the "ask a person?" offer); a pair gets a known number of replies (measured in the
warm-up: 2) and stores one row (`faq_misses`). The default 10 pairs a second make 20
replies a second, under the send budget every replica shares (SEND_RATE, 25 a second,
under Telegram's ~30): at 15 pairs (30 replies) a second the replies queue behind the
budget for as long as the drill runs. Scenarios:

- replica-kill: kill -9 one replica after 3 s, start it again 3 s later;
- pg-cut: the replicas reach PostgreSQL through a TCP proxy this script owns, cut for
  `--outage` seconds (the machine's PostgreSQL is never touched);
- redis-cut: the same for Redis (flood control and the send budget fall back per process);
- leader-kill: kill -9 the replica that runs the once-only jobs; prints how long until
  another one holds the leader lock;
- rolling: SIGTERM to each replica in turn, each started again and healthy before the next.

Traffic goes on until the disruption is over (a replica started again and healthy) and
2 s more, at least `--seconds`. Each prints: updates sent, answered, answered twice, lost,
stored twice, the slowest reply and the 99th percentile (from the person's message to
Telegram's 2xx, which a replica gives after the replies are sent), and for the slowest
updates what happened to each delivery (which replica, what it answered, how long). The
exit status is non-zero on any loss or duplicate.

`--baseline DIR` runs each scenario first with the replicas running the bot of another
checkout (e.g. `git worktree add /tmp/old <commit>`), then with this one, in one run: the
before/after figures under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram, FakeUser  # noqa: E402
from tests.replica_cluster import (  # noqa: E402
    PG_URL,
    Cluster,
    drop_database,
    fresh_database,
    leader_holders,
)
from tests.tcp_proxy import TcpProxy  # noqa: E402

REDIS = os.environ.get("DRILL_REDIS", "redis://127.0.0.1:6379/8")
FIRST_USER = 800_000


@dataclass
class Figures:
    scenario: str
    sent: int = 0
    answered: int = 0
    answered_twice: int = 0
    lost: int = 0
    stored_twice: int = 0
    not_stored: int = 0
    in_flight: int = 0  # missing replies whose row was in flight at a kill (at most once)
    out_of_order: int = 0  # people whose replies came in another order than their messages
    slowest: float = 0.0
    p99: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.answered_twice
            or self.stored_twice
            or self.not_stored
            or self.out_of_order
        )

    def line(self) -> str:
        return (
            f"{self.scenario:13} updates sent {self.sent:5}  answered {self.answered:5}  "
            f"answered twice {self.answered_twice:3}  lost {self.lost:3}  stored twice "
            f"{self.stored_twice:3}  not stored {self.not_stored:3}  in flight at a kill "
            f"{self.in_flight:2}  out of order {self.out_of_order:2}  slowest reply "
            f"{self.slowest:5.1f} s  p99 {self.p99:5.1f} s  {'OK' if self.ok else 'FAILED'}"
            + "".join(f"\n{'':15}{note}" for note in self.notes)
        )


class Traffic:
    """Questions from `users` in turn at `rate` per second; remembers when each was sent."""

    def __init__(self, fake: FakeTelegram, users: list[FakeUser]) -> None:
        self.fake = fake
        self.users = users
        self.sent_at: dict[int, float] = {}
        self.per_user: dict[int, int] = dict.fromkeys((u.id for u in users), 0)

    async def run(self, seconds: float, rate: float, done: asyncio.Event) -> None:
        """For `seconds`, and on until `done` (the disruption is over) and 2 s more."""
        started, n = time.monotonic(), 0
        ends = None
        while ends is None or time.monotonic() < ends:
            if ends is None and done.is_set() and time.monotonic() - started >= seconds:
                ends = max(time.monotonic() + 2, started + seconds)
            user = self.users[n % len(self.users)]
            # the same nonsense each time (digits could match an FAQ entry about a number)
            for text in ("qwzx plorf vrumm?", "/cancel"):  # /cancel: the next one is fresh
                user.send(text)
                self.sent_at[self.fake.last_update_id] = time.monotonic()
            self.per_user[user.id] += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))

    def confirmed(self) -> dict[int, float]:
        """update id -> when Telegram got its first 2xx."""
        done: dict[int, float] = {}
        for d in self.fake.webhook_deliveries:
            if d.status is not None and 200 <= d.status < 300 and d.update_id not in done:
                done[d.update_id] = d.time + d.duration
        return done


async def in_flight_at_a_crash(database_url: str) -> dict[int, int]:
    """Reply rows per chat that were in flight when their replica died: "unknown" (the
    leader marked them after 2 minutes) or still "sending" long after every update was
    confirmed."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT chat_id, count(*) AS n FROM outbox WHERE status = 'unknown' OR "
            "(status = 'sending' AND updated_at < now() at time zone 'utc' - interval '10 s') "
            "GROUP BY chat_id"
        )
    finally:
        await conn.close()
    return {r["chat_id"]: r["n"] for r in rows}


async def miss_rows(database_url: str) -> dict[int, int]:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch("SELECT user_id, count(*) AS n FROM faq_misses GROUP BY user_id")
    finally:
        await conn.close()
    return {r["user_id"]: r["n"] for r in rows}


async def outbox_of(database_url: str, chat_id: int) -> list[str]:
    """The last reply rows of one chat, for the account of a miscount."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT id, status, attempts, action->>'type' AS type, created_at, updated_at, "
            "last_error FROM outbox WHERE chat_id = $1 "
            "ORDER BY status = 'sent', id DESC LIMIT 6",  # first what was not sent
            chat_id,
        )
    finally:
        await conn.close()
    return [
        f"  row {r['id']} {r['type']} {r['status']} attempts {r['attempts']} created "
        f"{r['created_at']:%H:%M:%S.%f} updated {r['updated_at']:%H:%M:%S.%f} "
        f"{r['last_error'] or ''}"
        for r in rows
    ]


Disruption = Callable[[Cluster, dict[str, TcpProxy], Figures], Awaitable[None]]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


def history(update_id: int, sent_at: float, fake: FakeTelegram, cluster: Cluster) -> str:
    """What happened to one update: Telegram's deliveries and the balancer's forwards."""
    assert cluster.balancer is not None
    names = {r.url: f"r{r.index}" for r in cluster.replicas}
    parts = [
        f"+{d.time - sent_at:.1f}s→{d.status or 'none'} in {d.duration:.1f}s"
        for d in fake.webhook_deliveries
        if d.update_id == update_id
    ]
    hops = [
        f"+{f.started - sent_at:.1f}s {names.get(f.backend, f.backend)}:{f.status} "
        f"{f.duration:.1f}s"
        for f in cluster.balancer.forwarded
        if f.update_id == update_id
    ]
    return f"update {update_id}: Telegram {', '.join(parts)}; balancer {', '.join(hops)}"


async def scenario(
    name: str,
    disrupt: Disruption,
    *,
    users: int,
    rate: float,
    seconds: float,
    proxied: set[str],
    code: Path = ROOT,
) -> Figures:
    figures = Figures(name if code == ROOT else f"{name} (baseline)")
    database = await fresh_database("kb_drill")
    proxies: dict[str, TcpProxy] = {}
    db_url, redis_url = database, REDIS
    if "pg" in proxied:
        host, port = PG_URL.split("@", 1)[1].split("/", 1)[0].split(":")
        proxies["pg"] = await TcpProxy(host, int(port)).start()
        db_url = database.replace(f"{host}:{port}", f"127.0.0.1:{proxies['pg'].port}")
    if "redis" in proxied:
        rest = REDIS.split("://", 1)[1]
        host_port, _, db = rest.partition("/")
        host, _, port = host_port.partition(":")
        proxies["redis"] = await TcpProxy(host, int(port or 6379)).start()
        redis_url = f"redis://127.0.0.1:{proxies['redis'].port}/{db or 0}"
    workdir = Path(tempfile.mkdtemp(prefix=f"drill-{name}-"))
    try:
        # a token of its own: its Redis keys (presence, send budget) never meet the tests'
        async with FakeTelegram(
            token="770001:DRILL", webhook_retry_delay=0.5, webhook_timeout=10, record=False
        ) as fake:
            cluster = await Cluster(fake, db_url, workdir, redis_url=redis_url, code=code).start()
            try:
                people = [fake.user(FIRST_USER + i, language_code="en") for i in range(users)]
                for person in people:
                    person.send("/start")
                    person.send("/cancel")  # no open question: every text goes to the FAQ
                traffic = Traffic(fake, people)
                await Cluster.wait(lambda: fake.pending_update_count == 0, 120, "the warm-up")
                base = {p.id: len(p.bot_messages) for p in people}
                people[0].send("qwzx plorf vrumm?")  # one question: how many replies?
                people[0].send("/cancel")
                await Cluster.wait(lambda: fake.pending_update_count == 0, 60, "a question")
                per_question = len(people[0].bot_messages) - base[people[0].id]
                pattern = [m.content for m in people[0].bot_messages[base[people[0].id] :]]
                rows_before = await miss_rows(database)
                base[people[0].id] = len(people[0].bot_messages)

                over = asyncio.Event()
                run = asyncio.create_task(traffic.run(seconds, rate, over))
                try:
                    await disrupt(cluster, proxies, figures)
                finally:
                    over.set()
                await run
                try:
                    await Cluster.wait(
                        lambda: set(traffic.sent_at) <= set(traffic.confirmed()),
                        300,
                        "every update confirmed",
                    )
                except TimeoutError:  # reported below (as lost), with what happened
                    missing = sorted(set(traffic.sent_at) - set(traffic.confirmed()))
                    figures.notes.append(f"{len(missing)} update(s) never confirmed")
                    figures.notes += [
                        history(u, traffic.sent_at[u], fake, cluster) for u in missing[:3]
                    ]
                await asyncio.sleep(1.0)  # replies of the last confirmations
                rows = await miss_rows(database)
                crashed = await in_flight_at_a_crash(database)
                odd = [
                    p
                    for p in people
                    if len(p.bot_messages) - base[p.id] != traffic.per_user[p.id] * per_question
                ]
                for person in odd[:2]:  # what they got, and what the outbox says
                    tail = " | ".join(m.content[:25] for m in person.bot_messages[-6:])
                    figures.notes.append(f"person {person.id} got: {tail}")
                    figures.notes += await outbox_of(database, person.id)
            finally:
                await cluster.close()
            if "Traceback" in cluster.logs():
                figures.notes.append(f"tracebacks in the replicas' logs: see {workdir}")
        confirmed = traffic.confirmed()
        figures.sent = len(traffic.sent_at)
        failed = [d for d in fake.webhook_deliveries if not (d.status and 200 <= d.status < 300)]
        statuses = sorted({str(d.status or "no answer") for d in failed})
        figures.notes.append(
            f"deliveries Telegram retried: {len(failed)} ({', '.join(statuses) or 'none'})"
        )
        end = time.monotonic()
        waits = {u: confirmed.get(u, end) - t for u, t in traffic.sent_at.items()}
        figures.slowest = max(waits.values())
        figures.p99 = p99(list(waits.values()))
        # the person whose reply was slowest: what held their updates up
        for update_id in sorted(waits, key=waits.__getitem__, reverse=True)[:3]:
            if waits[update_id] > 2.0:
                figures.notes.append(
                    f"{waits[update_id]:.1f} s: "
                    + history(update_id, traffic.sent_at[update_id], fake, cluster)
                )
        for person in people:
            expected = traffic.per_user[person.id] * per_question
            got = len(person.bot_messages) - base[person.id]
            figures.answered += 2 * (min(got, expected) // max(per_question, 1))
            figures.answered_twice += max(0, got - expected)
            # a reply whose row was in flight when its replica was killed may never have
            # reached Telegram: the outbox sends at most once (no idempotency key), and
            # counts it here, not as lost
            missing = max(0, expected - got)
            figures.in_flight += min(missing, crashed.get(person.id, 0))
            figures.lost += missing - min(missing, crashed.get(person.id, 0))
            # in order: the question's reply, then /cancel's, again and again (a missing
            # reply in flight at a kill shifts the rest: that person is not counted)
            replies = [m.content for m in person.bot_messages[base[person.id] :]]
            if got == expected and any(
                text != pattern[i % len(pattern)] for i, text in enumerate(replies)
            ):
                figures.out_of_order += 1
            stored = rows.get(person.id, 0) - rows_before.get(person.id, 0)
            figures.stored_twice += max(0, stored - traffic.per_user[person.id])
            figures.not_stored += max(0, traffic.per_user[person.id] - stored)
    finally:
        for proxy in proxies.values():
            await proxy.stop()
        await drop_database(database)
    return figures


# ---------------------------------------------------------------------- disruptions


async def replica_kill(cluster: Cluster, _: dict[str, TcpProxy], figures: Figures) -> None:
    await asyncio.sleep(3)
    await cluster.kill(1)
    await asyncio.sleep(3)
    started = time.monotonic()
    await cluster.restart(1)
    took = time.monotonic() - started
    figures.notes.append(f"replica 1 killed; started again and healthy in {took:.1f} s")


def cut(kind: str, outage: float) -> Disruption:
    async def disrupt(_: Cluster, proxies: dict[str, TcpProxy], figures: Figures) -> None:
        await asyncio.sleep(3)
        proxies[kind].cut()
        await asyncio.sleep(outage)
        proxies[kind].restore()
        figures.notes.append(f"{kind} cut for {outage:.0f} s")

    return disrupt


async def leader_kill(cluster: Cluster, _: dict[str, TcpProxy], figures: Figures) -> None:
    import asyncpg

    await asyncio.sleep(3)
    conn = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        from bot.replicas import LEADER

        query = (
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND l.objid::int8 = $1 AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        holder = await conn.fetchval(query, LEADER)
        pids = {str(r.process.pid): r.index for r in cluster.replicas if r.process}
        leader = next(i for pid, i in pids.items() if holder and f"-{pid}-" in holder)
        await cluster.kill(leader)
        killed = time.monotonic()
        while True:
            now = await conn.fetchval(query, LEADER)
            if now and now != holder:
                break
            await asyncio.sleep(0.1)
        figures.notes.append(
            f"leader (replica {leader}) killed; another replica led after "
            f"{time.monotonic() - killed:.1f} s"
        )
    finally:
        await conn.close()
    await cluster.restart(leader)
    assert await leader_holders(cluster.database_url) == 1


async def rolling(cluster: Cluster, _: dict[str, TcpProxy], figures: Figures) -> None:
    await asyncio.sleep(2)
    for index in range(len(cluster.replicas)):
        code = await cluster.replicas[index].terminate()
        await cluster.restart(index)
        figures.notes.append(f"replica {index}: SIGTERM, exit {code}, started again")


SCENARIOS: dict[str, tuple[Callable[[float], Disruption], set[str]]] = {
    "replica-kill": (lambda _: replica_kill, set()),
    "pg-cut": (lambda outage: cut("pg", outage), {"pg"}),
    "redis-cut": (lambda outage: cut("redis", outage), {"redis"}),
    "leader-kill": (lambda _: leader_kill, set()),
    "rolling": (lambda _: rolling, set()),
}


async def main_async(args: argparse.Namespace) -> int:
    names = [args.only] if args.only else list(SCENARIOS)
    codes = [args.baseline, ROOT] if args.baseline else [ROOT]
    results = []
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if 2 * args.rate >= 25:
        print(
            f"note: {2 * args.rate:.0f} replies/s offered, over the shared send budget "
            "(SEND_RATE 25/s): replies queue behind it and the slowest reply grows with the run",
            flush=True,
        )
    for name in names:
        for code in codes:
            make, proxied = SCENARIOS[name]
            started = time.monotonic()
            figures = await scenario(
                name,
                make(args.outage),
                users=args.users,
                rate=args.rate,
                seconds=args.seconds,
                proxied=proxied,
                code=code,
            )
            figures.notes.append(
                f"{time.monotonic() - started:.0f} s in all; load average "
                + " ".join(f"{x:.1f}" for x in os.getloadavg())
            )
            print(figures.line(), flush=True)
            results.append(figures)
    return 0 if all(f.ok for f in results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=list(SCENARIOS))
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="question-and-/cancel pairs per second (2 updates, 2 replies each); keep 2 × "
        "rate under SEND_RATE (25 messages/s shared by every replica) or the replies queue "
        "behind the send budget and the slowest reply measures that queue",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of traffic")
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--short", action="store_true", help="replica-kill, 20 users, 8 s")
    parser.add_argument("--baseline", help="another checkout to run first, for before/after")
    args = parser.parse_args()
    if args.baseline:
        args.baseline = Path(args.baseline).resolve()
    if args.short:
        args.only, args.users, args.seconds, args.rate = "replica-kill", 20, 8.0, 10.0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
