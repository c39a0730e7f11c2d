"""Broadcast benchmark: a haastepaja invitation to many people while others chat.

    .venv/bin/python bench/broadcast_load.py                       # 10,000 recipients
    .venv/bin/python bench/broadcast_load.py --recipients 2000 --chatters 50
    .venv/bin/python bench/broadcast_load.py --think 10   # chatters pause 10 s between messages

A real `kierto-bot run` (aiogram, SQLite) against the fake Bot API server in this
process. The store is prepared first: `--recipients` people who turned invitations on,
one event, and one broadcast to all of them, queued in the outbox as the compose flow
queues it. The fake answers 2 % of the invitations with 429 (retry_after 1-3 s) and 3 %
with 403 (those people blocked the bot), while `--chatters` other people chat with the bot
(a closed loop: each sends its next message when the last was answered, or `--think`
seconds later).

Printed:
- messages per second as a share of SEND_RATE, over the time not spent in 429 pauses
  (a 429 stops all sending for its retry_after: that time, and anything sent inside it,
  is left out; how many were sent inside a pause is printed too, and should be about 0):
  delivered messages, and every request the budget paid for (403s and 429s cost one too);
- lost (an opted-in person who did not block the bot and got no invitation, and whose row
  is not "unknown") and duplicated (anyone with more than one);
- the chatters' reply time p50/p99 during the broadcast (all replies, and those whose wait
  did not overlap a 429 pause, which stops replies too), next to the same chat without it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram, FakeUser  # noqa: E402

TOKEN = "123456:BROADCAST"
FIRST_RECIPIENT = 1_000_000
FIRST_CHATTER = 2_000_000
BUDGETED = {"sendmessage", "editmessagetext", "senddocument", "sendphoto"}
CHAT_SCRIPT = ("/help", "mikä on työpaja", "/settings", "mikä on haastepaja", "/help")


async def prepare(url: str, recipients: int) -> int:
    """The store before the bot starts: opted-in people and one queued broadcast."""
    from dialogs.haastepaja import jobs
    from dialogs.store.db import Database
    from dialogs.store.haastepaja import Broadcast, HaastepajaEvent
    from dialogs.store.models import User
    from locales.i18n import I18n

    db = Database(url)
    await db.migrate()
    now = datetime.now(UTC)
    async with db.unit() as repo:
        repo.session.add_all(
            User(id=FIRST_RECIPIENT + i, locale="fi", invitations=True) for i in range(recipients)
        )
        event = await repo.hp_events.add(
            HaastepajaEvent(
                title={"fi": "Kuormitushaaste"},
                description={"fi": "Tervetuloa ratkomaan haastetta."},
                starts_at=now + timedelta(days=14),
                ends_at=now + timedelta(days=14, hours=2),
                place="Tampere",
                token="benchtoken01",
                created_by=1,
            )
        )
        broadcast = await repo.broadcasts.add(
            Broadcast(event_id=event.id or 0, segment={}, send_at=now, created_by=1)
        )
        queued = await jobs.begin_broadcast(repo, I18n(), broadcast, event, now)
    await db.dispose()
    return queued


REPLY_WAIT = 120.0  # seconds a chatter waits for a reply before counting it unanswered


async def chat(user: FakeUser, latencies: list[tuple[float, float]], think: float = 0.0) -> None:
    for index, text in enumerate(CHAT_SCRIPT):
        if think and index:
            await asyncio.sleep(think)  # reading the answer and typing the next message
        before = len(user.bot_messages)
        started = time.monotonic()
        user.send(text)
        try:
            await user.wait_for(lambda ms, b=before: len(ms) > b, timeout=REPLY_WAIT)
        except Exception:
            continue
        latencies.append((started, time.monotonic()))  # the fake's clock


def waits(latencies: list[tuple[float, float]], spans=()) -> list[float]:
    """Reply times, leaving out the replies whose wait overlapped one of `spans`."""
    return [
        end - start for start, end in latencies if not any(a < end and start < b for a, b in spans)
    ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def pauses(fake: FakeTelegram, since: float, until: float) -> list[tuple[float, float]]:
    """The 429 pauses between `since` and `until`: [answer, answer + retry_after], merged."""
    spans = sorted(
        (c.time, min(until, c.time + retry_after(c)))
        for c in fake.calls
        if c.status == 429 and since <= c.time <= until
    )
    merged: list[tuple[float, float]] = []
    for start, stop in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def retry_after(call) -> float:
    response = call.response if isinstance(call.response, dict) else {}
    return float(response.get("parameters", {}).get("retry_after", 0))


async def run_bot(fake: FakeTelegram, env: dict[str, str], log: Path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, **env, "TELEGRAM_API_URL": fake.base_url, "BOT_TOKEN": TOKEN},
    )
    deadline = time.monotonic() + 60
    # deleteWebhook is the door's last call before it polls (and the outbox loop starts)
    while not any(name.lower() == "deletewebhook" for name in fake.counts):
        if process.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not start; see {log}")
        await asyncio.sleep(0.05)
    return process


async def stop_bot(process) -> None:
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()


async def baseline(
    chatters: int, env: dict[str, str], tmp: str, think: float
) -> list[tuple[float, float]]:
    """The same chat with no broadcast."""
    latencies: list[tuple[float, float]] = []
    async with FakeTelegram(token=TOKEN, record=False) as fake:
        process = await run_bot(
            fake,
            {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/baseline.db"},
            Path(tmp) / "baseline.log",
        )
        try:
            people = [fake.user(FIRST_CHATTER + i, language_code="fi") for i in range(chatters)]
            await asyncio.gather(*(chat(p, latencies, think) for p in people))
        finally:
            await stop_bot(process)
    return latencies


async def outbox_statuses(url: str) -> Counter:
    from sqlalchemy import select

    from dialogs.store.db import Database
    from dialogs.store.models import OutboxMessage

    db = Database(url)
    async with db.unit() as repo:
        rows = await repo.session.execute(
            select(OutboxMessage.user_id, OutboxMessage.status).where(
                OutboxMessage.kind == "broadcast"
            )
        )
        statuses = {user_id: status for user_id, status in rows.all()}
    await db.dispose()
    return statuses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--chatters", type=int, default=200)
    parser.add_argument("--send-rate", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds a chatter waits between an answer and their next message (0: at once)",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {
        "SEND_RATE": str(args.send_rate),
        "LOG_LEVEL": "WARNING",
        "ADMIN_IDS": "",
        "STAFF_CHAT_ID": "",
        "FLOOD_RATE": "1000",
        "FLOOD_BURST": "1000",
    }
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/broadcast.db"
        queued = await prepare(url, args.recipients)
        print(
            f"{queued} invitations queued; {args.chatters} people chatting; "
            f"SEND_RATE {args.send_rate:g}/s",
            flush=True,
        )
        ids = [FIRST_RECIPIENT + i for i in range(args.recipients)]
        shuffled = rng.sample(ids, len(ids))
        blocked = set(shuffled[: round(0.03 * len(ids))])
        limited = shuffled[len(blocked) : len(blocked) + round(0.02 * len(ids))]
        latencies: list[tuple[float, float]] = []
        async with FakeTelegram(token=TOKEN) as fake:
            recipients = {uid: fake.user(uid, language_code="fi") for uid in ids}
            for uid in blocked:
                fake.block(uid)
            for uid in limited:
                fake.fail("sendMessage", 429, retry_after=rng.randint(1, 3), chat_id=uid)
            process = await run_bot(fake, {**env, "DATABASE_URL": url}, Path(tmp) / "bot.log")
            started = time.monotonic()
            try:
                people = [
                    fake.user(FIRST_CHATTER + i, language_code="fi") for i in range(args.chatters)
                ]
                chatting = asyncio.gather(*(chat(p, latencies, args.think) for p in people))

                def invited() -> int:
                    return sum(1 for u in recipients.values() if u.bot_messages)

                target = args.recipients - len(blocked)
                deadline = started + 3 * args.recipients / args.send_rate + 120
                # polled: checking 10,000 people after every request would slow the fake
                while invited() < target and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.5)
                await chatting
            finally:
                await stop_bot(process)
            statuses = await outbox_statuses(url)
            sends = sorted(
                c.time
                for c in fake.calls
                if c.method.lower() == "sendmessage"
                and c.status == 200
                and FIRST_RECIPIENT <= int((c.params or {}).get("chat_id", 0)) < FIRST_CHATTER
            )
            first_send, last_send = (sends[0], sends[-1]) if sends else (started, started)
            spans = pauses(fake, first_send, last_send)
            paused = sum(stop - start for start, stop in spans)
            during = sum(1 for t in sends if any(a < t < b for a, b in spans))
            # everything the budget paid for in the window: invitations and replies
            budgeted = [
                c.time
                for c in fake.calls
                if c.method.lower() in BUDGETED
                and c.status == 200
                and first_send <= c.time <= last_send
            ]
            spent = [t for t in budgeted if not any(a < t < b for a, b in spans)]
            # every request the budget paid for, whatever Telegram answered (a 403 or the
            # 429 itself costs a request too), outside the pauses
            requests = [
                c.time
                for c in fake.calls
                if c.method.lower() in BUDGETED
                and first_send <= c.time <= last_send
                and not any(a < c.time < b for a, b in spans)
            ]
            counts = Counter(len(u.bot_messages) for u in recipients.values())
            duplicated = sum(n for k, n in counts.items() if k > 1)
            lost = sum(
                1
                for uid, u in recipients.items()
                if uid not in blocked and not u.bot_messages and statuses.get(uid) != "unknown"
            )
            unknown = sum(1 for s in statuses.values() if s == "unknown")
            every_pause = pauses(fake, 0.0, float("inf"))
        elapsed = last_send - first_send
        sending = max(elapsed - paused, 1e-9)
        rate = (len(sends) - during) / sending
        total = len(spent) / sending
        print(
            f"broadcast: {len(sends)} delivered in {elapsed:.1f} s, of which {paused:.1f} s "
            f"in 429 pauses ({during} invitations were sent inside a pause)"
        )
        print(
            f"outside the pauses: {total:.1f} messages/s in all = {total / args.send_rate:.0%} "
            f"of SEND_RATE (invitations {rate:.1f}/s, the rest replies to the chatters)"
        )
        asked = len(requests) / sending
        print(
            f"outside the pauses: {asked:.1f} requests/s whatever the answer (403s and 429s "
            f"included) = {asked / args.send_rate:.0%} of SEND_RATE"
        )
        whole = len(budgeted) / max(elapsed, 1e-9)
        print(
            f"over the whole broadcast: {whole:.1f} messages/s = {whole / args.send_rate:.0%} "
            "of SEND_RATE"
        )
        print(
            f"lost {lost}, duplicated {duplicated}, unknown {unknown}, blocked "
            f"{sum(1 for s in statuses.values() if s == 'blocked')} (injected {len(blocked)}), "
            f"429 answered {sum(1 for c in fake.calls if c.status == 429)}"
        )
        alone = waits(await baseline(args.chatters, env, tmp, args.think))
        for label, values in (
            ("during the broadcast", waits(latencies)),
            ("  of which not waiting through a 429 pause", waits(latencies, every_pause)),
            ("without a broadcast", alone),
        ):
            print(
                f"interactive replies {label}: p50 {percentile(values, 0.5):.0f} ms, "
                f"p99 {percentile(values, 0.99):.0f} ms ({len(values)} replies)"
            )


if __name__ == "__main__":
    asyncio.run(main())
