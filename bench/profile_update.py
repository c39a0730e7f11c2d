"""Profile the bot process under load: where the CPU of one update goes.

    .venv/bin/python bench/profile_update.py                      # aiogram + SQLite
    .venv/bin/python bench/profile_update.py --runtime ptb --top 40
    .venv/bin/python bench/profile_update.py --database postgres --sort cumulative
    .venv/bin/python bench/profile_update.py --no-profile         # only the SQL counts

The bot runs in its own process (`python -m bot run`, as in production and in
bench/telegram_load.py) against the fake Bot API server in this process, which plays the
users with telegram_load's conversation (/start, company, name, Y-tunnus skipped,
kartoitus answers, /help, an FAQ question). After a warm-up (imports, catalogs, the FAQ
matcher and every code path met once), this process signals the bot to start cProfile
(SIGUSR1) and, when the measured users are done, to stop and write the profile (SIGUSR2).

Printed: the top functions by own time (or `--sort cumulative`) in the bot process during
the measured window, and per update: SQL statements, transactions (commits), Bot API calls
and the process's CPU time (without the profiler's overhead with `--no-profile`).
cProfile roughly doubles the cost of Python function calls, so read the profile for
proportions and the CPU figure of `--no-profile` (or bench/telegram_load.py) for time.
The raw profile is kept (`--out`, default /tmp/kierto-update.prof) for `python -m pstats`
or snakeviz.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------- the bot process


def child(out: str, argv: list[str], profile: bool) -> int:
    """Run the bot (`bot.cli.main(argv)`) with a profiler and SQL counters switched on and
    off by SIGUSR1 / SIGUSR2; the second writes `out` (pstats) and `out`.json (counts)."""
    import cProfile

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from dialogs.store import raw

    counts: dict[str, Any] = {"statements": 0, "commits": 0, "cpu": 0.0, "sql": {}}
    on = False
    profiler = cProfile.Profile()
    started = 0.0

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if on:
            counts["statements"] += 1
            text = " ".join(sql.split())[:110]
            counts["sql"][text] = counts["sql"].get(text, 0) + 1

    def commit(*_: object) -> None:
        if on:
            counts["commits"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    raw.OBSERVERS.append(lambda sql: statement(None, None, sql))  # on the driver itself
    event.listen(Engine, "commit", commit)

    def start(*_: object) -> None:
        nonlocal on, started
        on, started = True, time.process_time()
        if profile:
            profiler.enable()

    def stop(*_: object) -> None:
        nonlocal on
        if profile:
            profiler.disable()
        on = False
        counts["cpu"] = time.process_time() - started
        if profile:
            profiler.dump_stats(out)
        Path(out + ".json").write_text(json.dumps(counts))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from bot.cli import main

    return main(argv)


# ---------------------------------------------------------------------- the load


def written(path: Path, wait: float = 120) -> dict[str, Any]:
    """The bot process's counts, once it has written them."""
    deadline = time.monotonic() + wait
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return json.loads(path.read_text())


async def drive(args: argparse.Namespace) -> None:
    from bench.telegram_load import (
        TOKEN,
        Result,
        api_calls,
        fresh_pg_database,
        kierto_script,
        run_user,
        wait_ready,
    )
    from tests.fake_telegram import FakeTelegram

    out = args.out
    for stale in (Path(out), Path(out + ".json")):
        stale.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "postgres":
            url = await fresh_pg_database("kierto_profile")
            if url is None:
                return
        else:
            url = f"sqlite+aiosqlite:///{tmp}/profile.db"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "FLOOD_RATE": "1000",
            "FLOOD_BURST": "1000",
            "SEND_RATE": "100000",
            "LOG_LEVEL": "WARNING",
            "ADMIN_IDS": "",
            "STAFF_CHAT_ID": "",
            "BOT_TOKEN": TOKEN,
        }
        command = [sys.executable, __file__, "--child", out]
        if args.no_profile:
            command.append("--no-profile")
        command += ["--", "run", "--runtime", args.runtime]
        async with FakeTelegram(token=TOKEN, record=False, privacy_mode=True) as fake:
            env["TELEGRAM_API_URL"] = fake.base_url
            process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
            try:
                await wait_ready(fake, process)
                script = kierto_script(args.steps)
                warm = Result("warm-up")
                people = [fake.user(1_000 + i, language_code="fi") for i in range(args.warm)]
                await asyncio.gather(*(run_user(fake, p, script, warm) for p in people))
                measured = Result("measured")
                people = [fake.user(10_000 + i, language_code="fi") for i in range(args.users)]
                calls = api_calls(fake)
                process.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.2)  # the signal is handled between two bytecodes
                started = time.monotonic()
                await asyncio.gather(*(run_user(fake, p, script, measured) for p in people))
                seconds = time.monotonic() - started
                calls = api_calls(fake) - calls
                await asyncio.sleep(0.5)  # the last replies' marks
                process.send_signal(signal.SIGUSR2)
                counts = await asyncio.to_thread(written, Path(out + ".json"))
            finally:
                process.terminate()
                await process.wait()
    n = measured.updates or 1
    print(
        f"{args.runtime} + {args.database}: {measured.updates} updates answered "
        f"({measured.failures} unanswered) in {seconds:.1f} s by {args.users} users; per "
        f"update: {counts['statements'] / n:.2f} SQL statements, {counts['commits'] / n:.2f} "
        f"transactions, {calls / n:.2f} Bot API calls, "
        f"{1000 * counts['cpu'] / n:.2f} ms CPU"
        + (" (with the profiler's overhead)" if not args.no_profile else "")
    )
    print("\nSQL statements per update:")
    for text, times in sorted(counts["sql"].items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {times / n:5.2f}  {text}")
    if args.no_profile:
        return
    print()
    stats = pstats.Stats(out)
    stats.sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=["aiogram", "ptb"], default="aiogram")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--users", type=int, default=100, help="measured users")
    parser.add_argument("--warm", type=int, default=10, help="warm-up users (not measured)")
    parser.add_argument("--steps", type=int, default=20, help="updates per user")
    parser.add_argument("--top", type=int, default=30, help="functions printed")
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumulative…")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "kierto-update.prof"))
    parser.add_argument("--no-profile", action="store_true", help="count, do not profile")
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        raise SystemExit(child(args.child, [a for a in rest if a != "--"], not args.no_profile))
    asyncio.run(drive(args))


if __name__ == "__main__":
    main()
