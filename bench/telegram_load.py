"""Load benchmark: many simulated Telegram users through the fake Bot API server.

    .venv/bin/python bench/telegram_load.py                    # 1,000 users x 20 updates
    .venv/bin/python bench/telegram_load.py --users 200 --steps 10 --only echo sqlite
    .venv/bin/python bench/telegram_load.py --users 200 --baseline-ref main   # before/after

Each bot runs in its own process, as in production, against the fake Bot API server in
this process (tests/fake_telegram/), which also plays the users. Every user runs a
script of `--steps` updates, one at a time, each sent when the bot has answered the last
one (a closed loop, as people chat), all users at once. Printed per bot:
updates per second, and the time from an update being available to the bot's reply
appearing (p50, p99).

Bots measured in the same run:
- echo: a bare aiogram echo bot (bench/echo_bot.py), the baseline for the ratio;
- kierto-bot on SQLite and on PostgreSQL (aiogram runtime), and on SQLite with the
  python-telegram-bot runtime. Their script is a real conversation: /start, "I represent
  a company", the company name, Y-tunnus skipped, questions of the KIERTO-kartoitus
  answered with buttons (each answer written to the store), /help, an FAQ question.
  The echo bot gets the same number of text messages.

With `--baseline-ref REF` every kierto-bot row is measured twice in the same run, first
with the code at git REF (unpacked into a temporary folder and run with this checkout's
virtual environment), then with this checkout: before/after figures under the same load
of the machine. Where the CPU of an update goes, and its SQL statements and transactions:
bench/profile_update.py.

Flood control and the send rate are lifted for the bots under test (this measures the
bot, not Telegram's 30 messages/s). Needs PostgreSQL at BENCH_PG (default: the local test
server) for the PostgreSQL row; it is skipped with a note when the server is not there.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram, FakeUser  # noqa: E402

TOKEN = "123456:BENCH"
STEP_TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "120"))  # seconds a step may wait
# seconds a bot process may take to start (imports, migrations; slow on a busy machine)
START_TIMEOUT = float(os.environ.get("BENCH_START_TIMEOUT", "300"))
BENCH_PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    name: str
    updates: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    cpu_seconds: float | None = None  # the bot process's CPU time while measured
    harness_seconds: float = 0.0  # this process's (fake Bot API + users) CPU time meanwhile
    calls: int = 0  # Bot API calls other than getUpdates while measured

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def kierto_script(steps: int) -> list[tuple[str, str]]:
    """(kind, value) steps: text messages and button presses by callback data prefix."""
    script = [
        ("text", "/start"),
        ("press", "m:company"),
        ("text", "Kuormitus Oy"),
        ("press", "k:yt:skip"),
    ]
    tail = [("text", "/help"), ("text", "mikä on työpaja")]
    answers = max(0, steps - len(script) - len(tail))
    script += [("answer", "")] * answers
    return (script + tail)[:steps]


async def run_user(
    fake: FakeTelegram, user: FakeUser, script: list[tuple[str, str]], result: Result
) -> None:
    def question(messages: list) -> object:
        last = messages[-1] if messages else None
        return (
            last
            if last is not None
            and any(d.startswith("k:") and not d.startswith("k:yt") for d in last.callback_data)
            else None
        )

    def seen(messages: list) -> tuple:
        # what the user sees of the newest messages: a reply is a new message or an edit
        return tuple((m.message_id, m.content, tuple(m.button_texts)) for m in messages[-2:])

    for kind, value in script:
        try:
            # a reply can be several messages: wait until the button to press has arrived
            if kind == "answer":
                message = await user.wait_for(question, timeout=STEP_TIMEOUT)
            elif kind == "press":
                await user.wait_for(
                    lambda ms, v=value: any(m.has_button(v) for m in ms), timeout=STEP_TIMEOUT
                )
            before = seen(user.bot_messages)
            started = time.monotonic()
            if kind == "text":
                user.send(value)
            elif kind == "press":
                user.press(value)
            else:  # answer the open kartoitus question with its first option
                data = message.callback_data
                done = next((d for d in data if d.endswith(":done")), None)
                ticked = any(label.startswith("☑️") for label in message.button_texts)
                user.press(done if done and ticked else data[0], message.message_id)
            await user.wait_for(lambda ms, b=before: seen(ms) != b, timeout=STEP_TIMEOUT)
        except Exception as exc:  # a step that got no answer is counted, the user goes on
            if os.environ.get("BENCH_DEBUG"):
                print(f"step {kind} {value!r} failed: {str(exc)[-700:]}")
            result.failures += 1
            continue
        result.latencies.append(time.monotonic() - started)
        result.updates += 1


async def wait_ready(fake: FakeTelegram, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not any(name.lower() == "getupdates" for name in fake.counts):
        if process.returncode is not None:
            raise RuntimeError("the bot process ended before it started polling")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not start polling within {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.05)


async def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    users: int,
    steps: int,
    echo: bool,
    cwd: Path = ROOT,
) -> Result:
    result = Result(name)
    slug = "-".join(name.lower().replace("+", "").split())
    log = Path(tempfile.gettempdir()) / f"kierto-bench-{slug}.log"
    async with FakeTelegram(token=TOKEN, record=False, privacy_mode=True) as fake:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log.open("wb"),
            env={
                **os.environ,
                **env,
                "TELEGRAM_API_URL": fake.base_url,
                "ECHO_API_URL": fake.base_url,
                "BOT_TOKEN": TOKEN,
                "ECHO_TOKEN": TOKEN,
            },
        )
        try:
            await wait_ready(fake, process)
            people = [fake.user(10_000 + i, language_code="fi") for i in range(users)]
            script = (
                [("text", f"viesti {i}") for i in range(steps)] if echo else kierto_script(steps)
            )
            started, cpu = time.monotonic(), cpu_time(process.pid)
            harness = time.process_time()
            calls = api_calls(fake)
            await asyncio.gather(*(run_user(fake, p, script, result) for p in people))
            result.seconds = time.monotonic() - started
            result.harness_seconds = time.process_time() - harness
            result.calls = api_calls(fake) - calls
            if cpu is not None and (now := cpu_time(process.pid)) is not None:
                result.cpu_seconds = now - cpu
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
    return result


def cpu_time(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def fresh_pg_database(name: str = "kierto_bench") -> str | None:
    """An empty database `name` on the server at BENCH_PG, as an SQLAlchemy URL (None, with
    a note, when no server answers)."""
    try:
        import asyncpg

        conn = await asyncpg.connect(BENCH_PG, timeout=5)
    except Exception as exc:  # no server: the row is skipped with a note
        print(f"(PostgreSQL not reachable at {BENCH_PG}: {exc}; skipping its row)")
        return None
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base = BENCH_PG.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def checkout(ref: str, into: Path) -> Path:
    """The project's files at git `ref` (say `main`), unpacked into `into`: the bot
    processes of a `--baseline-ref` row run from there (`python -m bot` imports the
    working directory's packages first), with this checkout's virtual environment."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def api_calls(fake: FakeTelegram) -> int:
    return sum(n for method, n in fake.counts.items() if method.lower() != "getupdates")


def busy(result: Result) -> str:
    if not result.updates:
        return ""
    calls = f", {result.calls / result.updates:.2f} API calls per update"
    if result.cpu_seconds is None:
        return calls
    return (
        f"{calls}, bot process busy {result.cpu_seconds / result.seconds:.0%} of the time, "
        f"{1000 * result.cpu_seconds / result.updates:.2f} ms CPU per update; "
        f"fake Bot API busy {result.harness_seconds / result.seconds:.0%}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20, help="updates per user")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["echo", "sqlite", "postgres", "ptb"],
        default=["echo", "sqlite", "postgres", "ptb"],
    )
    parser.add_argument(
        "--baseline-ref",
        metavar="REF",
        help="also measure each kierto-bot row with the code at git REF (say main), right "
        "before the row itself: before/after figures from the same run",
    )
    args = parser.parse_args()
    python = sys.executable
    kierto = [python, "-m", "bot", "run"]
    lifted = {
        "FLOOD_RATE": "1000",
        "FLOOD_BURST": "1000",
        "SEND_RATE": "100000",
        "LOG_LEVEL": "WARNING",
        "ADMIN_IDS": "",
        "STAFF_CHAT_ID": "",
    }
    print(
        f"{args.users} users x {args.steps} updates = {args.users * args.steps} updates "
        "per bot, all users at once, each waiting for the reply before its next update\n"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("", ROOT)]
        if args.baseline_ref:
            base = checkout(args.baseline_ref, Path(tmp) / "baseline")
            trees.insert(0, (f" [{args.baseline_ref}]", base))
        plans: list[tuple[str, list[str], dict[str, str], bool, Path]] = []
        if "echo" in args.only:
            plans.append(("bare aiogram echo bot", [python, "bench/echo_bot.py"], {}, True, ROOT))
        for n, (tag, tree) in enumerate(trees):
            if "sqlite" in args.only:
                db = f"sqlite+aiosqlite:///{tmp}/a{n}.db"
                env = {**lifted, "DATABASE_URL": db}
                plans.append((f"kierto-bot aiogram + SQLite{tag}", kierto, env, False, tree))
        for n, (tag, tree) in enumerate(trees):
            if "postgres" in args.only and (url := await fresh_pg_database(f"kierto_bench{n}")):
                env = {**lifted, "DATABASE_URL": url}
                plans.append((f"kierto-bot aiogram + PostgreSQL{tag}", kierto, env, False, tree))
        for n, (tag, tree) in enumerate(trees):
            if "ptb" in args.only:
                db = f"sqlite+aiosqlite:///{tmp}/p{n}.db"
                env = {**lifted, "DATABASE_URL": db}
                ptb = [*kierto, "--runtime", "ptb"]
                plans.append((f"kierto-bot PTB + SQLite{tag}", ptb, env, False, tree))
        for name, command, env, echo, tree in plans:
            result = await measure(name, command, env, args.users, args.steps, echo, tree)
            results.append(result)
            print(
                f"{name:<42} {result.rate:8.0f} updates/s   p50 {result.percentile(0.5):7.1f} ms"
                f"   p99 {result.percentile(0.99):8.1f} ms   ({result.updates} answered, "
                f"{result.failures} unanswered, {result.seconds:.1f} s{busy(result)})",
                flush=True,
            )
    baseline = next((r for r in results if r.name.startswith("bare")), None)
    if baseline and baseline.rate:
        print()
        for result in results:
            if result is not baseline:
                print(
                    f"{result.name:<42} {result.rate / baseline.rate:6.0%} of the echo bot's "
                    "throughput"
                )


if __name__ == "__main__":
    asyncio.run(main())
