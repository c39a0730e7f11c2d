"""Engine benchmark: what one event costs kierto-bot itself, with no Telegram in the way.

    .venv/bin/python bench/engine_cost.py                  # 50 users x 20 events
    .venv/bin/python bench/engine_cost.py --users 200
    .venv/bin/python bench/engine_cost.py --outbox         # replies written as outbox rows

Drives `Engine.handle` directly with the same conversation as bench/telegram_load.py
(/start, company, name, Y-tunnus skipped, kartoitus answers, /help, an FAQ question),
all users at once, and prints the CPU time and the number of SQL statements per event for:

- SQLite as shipped: statements run on the event loop's thread (dialogs/store/db.py
  `InlineSqlite`);
- SQLite through aiosqlite's worker thread: the baseline, measured in the same run;
- PostgreSQL (asyncpg), when the local test server is reachable (BENCH_PG, as for
  bench/telegram_load.py).

With `--outbox` the engine writes every reply to the outbox in the event's transaction, as
it does behind the Telegram doors; sending the rows (a claim and a "sent" mark each, group-
committed) is the door's work and is not measured here: bench/profile_update.py measures
the whole bot process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event as sa_event  # noqa: E402

from bench.telegram_load import fresh_pg_database  # noqa: E402
from bot.app import App, build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from dialogs.faq_match import FaqMatcher  # noqa: E402
from dialogs.store import raw  # noqa: E402
from dialogs.store.db import Database  # noqa: E402
from knowledge.loader import Knowledge, load  # noqa: E402
from tests.conversation import Conversation  # noqa: E402


async def conversation(me: Conversation, steps: int) -> int:
    """The load benchmark's script; returns the number of events sent."""
    await me.send("/start")
    await me.press("m:company")
    await me.send("Kuormitus Oy")
    await me.press("k:yt:skip")
    sent = 4
    for _ in range(max(0, steps - sent - 2)):
        last = me.last
        data = [p for p in last.payloads if p.startswith("k:") and not p.startswith("k:yt")]
        done = next((d for d in data if d.endswith(":done")), None)
        ticked = any(b.label.startswith("☑️") for b in last.buttons)
        await me.press(done if done and ticked else data[0], last.id)
        sent += 1
    await me.send("/help")
    await me.send("mikä on työpaja")
    return sent + 2


async def measure(
    name: str,
    db: Database,
    kb: Knowledge,
    matcher: FaqMatcher,
    users: int,
    steps: int,
    outbox: bool = False,
) -> None:
    settings = Settings(_env_file=None, database_url=db.url)
    app: App = await build_app(settings, db=db, kb=kb, matcher=matcher)
    app.engine.outbox = outbox
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    try:
        sa_event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
        raw.OBSERVERS.append(count)  # the statements run on the driver itself
        people = [Conversation(app.engine, user_id=10_000 + i, lang="fi") for i in range(users)]
        wall, cpu = time.perf_counter(), time.process_time()
        events = sum(await asyncio.gather(*(conversation(p, steps) for p in people)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{name:<40} {1000 * cpu / events:6.2f} ms CPU per event   "
            f"{events / wall:7.0f} events/s   {statements / events:4.1f} SQL statements "
            f"per event   ({events} events)",
            flush=True,
        )
    finally:
        if count in raw.OBSERVERS:
            raw.OBSERVERS.remove(count)
        await app.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="events per user")
    parser.add_argument("--outbox", action="store_true", help="replies as outbox rows")
    args = parser.parse_args()
    kb = load()
    matcher = FaqMatcher(kb.faq, kb.synonyms.concepts)
    print(f"{args.users} users x {args.steps} events, all at once, straight into the engine\n")
    with tempfile.TemporaryDirectory() as tmp:
        # warm up: first-use costs (imports, catalogs, the matcher) are not the engine's
        warm = Database(f"sqlite+aiosqlite:///{tmp}/warm.db")
        app = await build_app(
            Settings(_env_file=None, database_url=warm.url), db=warm, kb=kb, matcher=matcher
        )
        await conversation(Conversation(app.engine, user_id=1, lang="fi"), args.steps)
        await app.close()
        await measure(
            "SQLite, statements on the loop thread",
            Database(f"sqlite+aiosqlite:///{tmp}/inline.db"),
            kb,
            matcher,
            args.users,
            args.steps,
            args.outbox,
        )
        await measure(
            "SQLite via aiosqlite's thread (baseline)",
            Database(f"sqlite+aiosqlite:///{tmp}/thread.db", inline_sqlite=False),
            kb,
            matcher,
            args.users,
            args.steps,
            args.outbox,
        )
    if url := await fresh_pg_database("kierto_engine_bench"):
        db = Database(url)
        await measure("PostgreSQL (asyncpg)", db, kb, matcher, args.users, args.steps, args.outbox)


if __name__ == "__main__":
    asyncio.run(main())
