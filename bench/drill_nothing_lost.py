"""Drill: nothing is lost and nothing is done twice, through a kill -9 and a database outage.

    .venv/bin/python bench/drill_nothing_lost.py            # 300 users, 10 s outage
    .venv/bin/python bench/drill_nothing_lost.py --short    # 30 users, 2 s outage (a test runs it)
    .venv/bin/python bench/drill_nothing_lost.py --only kill9 --users 500

Not a test: it runs real `kierto-bot run` / `kierto-bot webhook` processes against the fake
Bot API server in this process (tests/fake_telegram), which plays the users. Each user sends
/start (two replies) and then `--messages` x /help (one reply each), so the replies every
user must see are known. Scenarios:

- kill9 (SQLite) and kill9-pg (PostgreSQL), polling: the send budget is low, so replies
  queue up; once every update is committed the bot gets SIGKILL, then starts again. The
  outbox must deliver each reply once; a reply in flight at the kill may be lost
  ("unknown": at most once, by design).
- outage-polling / outage-webhook (PostgreSQL through a TCP proxy this script owns; the
  machine's PostgreSQL is never touched): traffic before, during and after the proxy is cut
  for `--outage` seconds. Updates that met the outage must be handled once it is back; the
  webhook answers 5xx meanwhile so the fake Telegram delivers again.

Printed per scenario: updates sent, processed, processed twice, replies expected,
delivered, delivered twice, lost, in-flight-at-kill (unknown), webhook 5xx answers. The exit
status is non-zero when any update is not processed, anything is processed or delivered
twice, or a reply is lost other than one in flight at the kill. Those few are the price of
at-most-once delivery (the Bot API has no idempotency key): the outbox marks them
"unknown" and logs them, and the drill prints how many of them did not arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram, FakeUser  # noqa: E402
from tests.processes import die_with_parent  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402

PG = os.environ.get("DRILL_PG", "postgresql://postgres@127.0.0.1:5432/test")
FIRST_USER = 500_000
SECRET = "drill-secret-0123456789"
RUNTIME = "aiogram"  # --runtime ptb runs every scenario on python-telegram-bot


@dataclass
class Figures:
    scenario: str
    updates_sent: int = 0
    processed: int = 0
    processed_twice: int = 0
    replies_expected: int = 0
    delivered: int = 0
    delivered_twice: int = 0
    lost: int = 0
    unknown: int = 0  # in flight at the kill: at most once, reported, not resent
    webhook_5xx: int = 0
    delivered_at_kill: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost <= self.unknown
            and self.processed_twice == 0
            and self.delivered_twice == 0
            and self.processed == self.updates_sent
        )

    def line(self) -> str:
        return (
            f"{self.scenario:15} updates sent {self.updates_sent:5}  processed {self.processed:5}"
            f"  processed twice {self.processed_twice}  replies expected "
            f"{self.replies_expected:5}  delivered {self.delivered:5}  delivered twice "
            f"{self.delivered_twice}  lost {self.lost} (in flight at the kill, reported unknown: "
            f"{self.unknown}; lost otherwise: {max(0, self.lost - self.unknown)})  webhook 5xx "
            f"{self.webhook_5xx}  ({self.seconds:.1f} s) {'OK' if self.ok else 'FAILED'}"
        )


class Bot:
    """One `kierto-bot` process."""

    def __init__(self, fake: FakeTelegram, workdir: Path, database_url: str, **env: str) -> None:
        self.env = {
            **os.environ,
            "BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.base_url,
            "DATABASE_URL": database_url,
            "FLOOD_RATE": "1000",
            "FLOOD_BURST": "1000",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        for name in ("ADMIN_IDS", "STAFF_CHAT_ID", "REDIS_URL", "HEALTH_LISTEN"):
            self.env.pop(name, None)
        self.workdir = workdir
        self.runtime = RUNTIME
        self.process: asyncio.subprocess.Process | None = None
        self.log = workdir / "bot.log"

    async def start(self, command: str = "run") -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                command,
                "--runtime",
                self.runtime,
                cwd=self.workdir,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
                preexec_fn=die_with_parent,
            )

    async def ready(self, predicate: Callable[[], object], seconds: float = 180) -> None:
        """Wait until the bot is serving; on failure show the end of its log."""
        try:
            await wait_for(predicate, seconds, "the bot to start")
        except TimeoutError:
            print(self.log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


async def wait_for(predicate: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {seconds:.0f} s")
        await asyncio.sleep(0.1)


async def store_counts(database_url: str) -> tuple[int, int, int]:
    """processed updates, outbox rows, outbox rows 'unknown' (in flight at a crash)."""
    from sqlalchemy import func, select

    from dialogs.store.db import Database
    from dialogs.store.models import OutboxMessage, ProcessedUpdate

    db = Database(database_url)
    try:
        async with db.unit() as repo:
            count = select(func.count())
            processed = (
                await repo.session.execute(count.select_from(ProcessedUpdate))
            ).scalar_one()
            outbox = count.select_from(OutboxMessage)
            rows = (await repo.session.execute(outbox)).scalar_one()
            lost = outbox.where(OutboxMessage.status == "unknown")
            unknown = (await repo.session.execute(lost)).scalar_one()
        return processed, rows, unknown
    finally:
        await db.dispose()


def users_of(fake: FakeTelegram, n: int) -> list[FakeUser]:
    return [fake.user(FIRST_USER + i, language_code="fi") for i in range(n)]


def tally(figures: Figures, users: list[FakeUser], per_user: int) -> None:
    figures.replies_expected = len(users) * (2 + per_user)
    for user in users:
        got = len(user.bot_messages)
        figures.delivered += got
        figures.delivered_twice += max(0, got - (2 + per_user))
        figures.lost += max(0, (2 + per_user) - got)


async def fresh_pg(name: str) -> str | None:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG, timeout=5)
    except Exception as exc:
        print(f"(PostgreSQL not reachable at {PG}: {exc}; skipping the outage scenarios)")
        return None
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG, timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def kill9(
    n_users: int, per_user: int, patience: float, store: str = "sqlite"
) -> Figures | None:
    """Replies queued behind a low send budget, SIGKILL once every update is committed."""
    figures = Figures("kill9" if store == "sqlite" else "kill9-pg")
    started = time.monotonic()
    name = f"kierto_drill_{uuid.uuid4().hex[:8]}"
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        workdir = Path(tmp)
        url = f"sqlite+aiosqlite:///{workdir / 'drill.db'}"
        if store == "pg":
            pg = await fresh_pg(name)
            if pg is None:
                return None
            url = pg
            stack.push_async_callback(drop_pg, name)
        async with FakeTelegram(record=False) as fake:
            send_rate = str(max(5, n_users * (2 + per_user) // 30))  # ~30 s of replies
            bot = Bot(fake, workdir, url, SEND_RATE=send_rate)
            await bot.start()
            await bot.ready(lambda: fake.counts.get("getUpdates", 0) > 0)
            figures.notes.append(f"bot polling after {time.monotonic() - started:.1f} s")
            users = users_of(fake, n_users)
            for user in users:
                user.send("/start")
            for _ in range(per_user):
                for user in users:
                    user.send("/help")
            figures.updates_sent = n_users * (1 + per_user)

            processed = 0

            async def all_committed() -> bool:
                nonlocal processed
                processed, _, _ = await store_counts(url)
                return processed >= figures.updates_sent

            deadline = time.monotonic() + patience
            while not await all_committed() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            delivered_before = sum(len(u.bot_messages) for u in users)
            figures.delivered_at_kill = delivered_before
            await bot.kill()
            figures.notes.append(f"killed after {time.monotonic() - started:.1f} s")
            figures.notes.append(
                f"killed with {delivered_before} of {n_users * (2 + per_user)} replies delivered"
            )
            await bot.start()
            expected = n_users * (2 + per_user)
            with contextlib.suppress(TimeoutError):
                await wait_for(
                    lambda: sum(len(u.bot_messages) for u in users) >= expected, patience, "replies"
                )
            figures.notes.append(f"all replies after {time.monotonic() - started:.1f} s")
            await asyncio.sleep(1.0)  # a duplicate would show up now
            await bot.kill()  # (the outbox rows are all marked by now)
            figures.notes.append(f"stopped after {time.monotonic() - started:.1f} s")
            figures.processed, rows, figures.unknown = await store_counts(url)
            figures.processed_twice = max(0, rows - expected)
            tally(figures, users, per_user)
    figures.seconds = time.monotonic() - started
    return figures


async def outage(
    n_users: int, per_user: int, seconds: float, mode: str, patience: float
) -> Figures | None:
    """PostgreSQL cut off for `seconds` (at the proxy) while users write."""
    figures = Figures(f"outage-{mode}")
    name = f"kierto_drill_{uuid.uuid4().hex[:8]}"
    url = await fresh_pg(name)
    if url is None:
        return None
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = await TcpProxy(host, int(port)).start()
    proxied = url.replace(host_port, f"127.0.0.1:{proxy.port}")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            async with FakeTelegram(record=False) as fake:
                fake.webhook_retry_delay = 0.5
                env = {"SEND_RATE": "1000", "DB_RETRY_MAX": "1"}
                if mode == "webhook":
                    listen = free_port()
                    env |= {
                        "WEBHOOK_URL": f"http://127.0.0.1:{listen}/tg",
                        "WEBHOOK_SECRET": SECRET,
                        "WEBHOOK_LISTEN": f"127.0.0.1:{listen}",
                    }
                bot = Bot(fake, workdir, proxied, **env)
                await bot.start("webhook" if mode == "webhook" else "run")
                ready = (
                    (lambda: fake.webhook_url)
                    if mode == "webhook"
                    else (lambda: fake.counts.get("getUpdates", 0) > 0)
                )
                await bot.ready(ready)
                users = users_of(fake, n_users)
                thirds = [users[i::3] for i in range(3)]

                async def traffic(group: list[FakeUser], spread: float) -> None:
                    for user in group:
                        user.send("/start")
                    for _ in range(per_user):
                        await asyncio.sleep(spread / max(1, per_user))
                        for user in group:
                            user.send("/help")

                await traffic(thirds[0], 0.5)
                proxy.cut()
                await traffic(thirds[1], seconds / 2)
                await asyncio.sleep(seconds / 2)
                proxy.restore()
                await traffic(thirds[2], 0.5)
                figures.updates_sent = n_users * (1 + per_user)
                expected = n_users * (2 + per_user)
                with contextlib.suppress(TimeoutError):
                    await wait_for(
                        lambda: sum(len(u.bot_messages) for u in users) >= expected,
                        patience,
                        "replies",
                    )
                await asyncio.sleep(1.0)
                if mode == "webhook":
                    figures.webhook_5xx = sum(  # a delivery that timed out has no status
                        1 for d in fake.webhook_deliveries if 500 <= (d.status or 0) < 600
                    )
                await bot.stop()
                figures.processed, rows, figures.unknown = await store_counts(url)
                figures.processed_twice = max(0, rows - expected)
                tally(figures, users, per_user)
    finally:
        await proxy.stop()
        await drop_pg(name)
    figures.seconds = time.monotonic() - started
    return figures


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    users: int = 300,
    messages: int = 3,
    outage_seconds: float = 10.0,
    only: list[str] | None = None,
    patience: float = 120.0,
) -> list[Figures]:
    results: list[Figures] = []
    wanted = only or SCENARIOS
    for store in ("sqlite", "pg"):
        if ("kill9" if store == "sqlite" else "kill9-pg") in wanted:
            killed = await kill9(users, messages, patience, store)
            if killed is not None:
                results.append(killed)
                print(killed.line(), *killed.notes, sep="\n  ", flush=True)
    for mode in ("polling", "webhook"):
        if f"outage-{mode}" in wanted:
            figures = await outage(users, messages, outage_seconds, mode, patience)
            if figures is not None:
                results.append(figures)
                print(figures.line(), flush=True)
    return results


SCENARIOS = ["kill9", "kill9-pg", "outage-polling", "outage-webhook"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--messages", type=int, default=3, help="/help messages per user")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database is cut")
    parser.add_argument("--short", action="store_true", help="30 users, a 2 s outage")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS)
    parser.add_argument("--runtime", choices=["aiogram", "ptb"], default="aiogram")
    args = parser.parse_args()
    global RUNTIME
    RUNTIME = args.runtime
    if args.short:
        args.users, args.messages, args.outage = 30, 2, 2.0
    results = asyncio.run(run(args.users, args.messages, args.outage, args.only))
    return 0 if results and all(f.ok for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
