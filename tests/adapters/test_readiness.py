"""A webhook replica's readiness as the balancer sees it (/healthz 503 while starting and
from SIGTERM on, /livez always), its drain, and per person order when Telegram delivers
an update again while another replica still sends that update's replies
(bot/adapters/telegram/web.py, bot/adapters/serve.py, bot/adapters/telegram/order.py)."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import bot.adapters.telegram.order as order
from bot.adapters import serve
from bot.adapters.guard import GuardedSite
from bot.adapters.serve import make_transport
from bot.adapters.telegram import TelegramDoor
from bot.adapters.telegram.order import EarlierReplies, RepliesOnTheirWay
from bot.app import App
from bot.throttle import MemoryThrottle, SendRate
from dialogs.store.models import OutboxMessage, ProcessedUpdate
from tests.adapters.test_runtimes import count, settings_for, start, stop
from tests.fake_telegram import FakeTelegram

SECRET = "s" * 20
_update_ids = itertools.count(700_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(user_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    """A private message update, as Telegram would post it to the webhook."""
    update_id = next(_update_ids) if update_id is None else update_id
    entities = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 100_000,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "P"},
            "from": {"id": user_id, "is_bot": False, "first_name": "P", "language_code": "en"},
            "text": text,
            **({"entities": entities} if text.startswith("/") else {}),
        },
    }


class Served:
    """A door's web app on a local port (no balancer)."""

    def __init__(self, door: TelegramDoor) -> None:
        self.door = door
        self.port = free_port()
        self.runner = web.AppRunner(door.web_app("/tg", SECRET))
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Served:
        await self.runner.setup()
        await GuardedSite(self.runner, "127.0.0.1", self.port).start()
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.http is not None
        await self.http.close()
        await self.runner.cleanup()

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        async with self.http.get(f"http://127.0.0.1:{self.port}{path}") as r:
            return r.status, await r.json()

    async def post(self, update: dict[str, Any]) -> aiohttp.ClientResponse:
        assert self.http is not None
        async with self.http.post(
            f"http://127.0.0.1:{self.port}/tg",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        ) as r:
            await r.read()
            return r


def new_door(app: App, runtime: str = "aiogram") -> TelegramDoor:
    return TelegramDoor(
        app, make_transport(app, runtime), MemoryThrottle(rate=50, burst=50), SendRate(10_000)
    )


@pytest.fixture
async def app(fake_telegram: FakeTelegram, tmp_path: Path, make_app) -> AsyncIterator[App]:
    app = await make_app(settings_for(fake_telegram, tmp_path))
    yield app
    await app.close()


# ---------------------------------------------------------------------- readiness


async def test_a_starting_replica_is_not_ready_and_refuses_updates_but_is_alive(
    fake_telegram: FakeTelegram, app: App
) -> None:
    door = new_door(app)  # not prepared yet: the runtime has not started
    try:
        async with Served(door) as served:
            status, body = await served.get("/healthz")
            assert (status, body["status"]) == (503, "starting")
            assert (await served.get("/readyz"))[0] == 503
            assert await served.get("/livez") == (200, {"status": "alive", "state": "starting"})
            fake_telegram.user(501, language_code="en")
            answer = await served.post(message(501, "/start"))
            assert answer.status == 503 and answer.headers["Retry-After"] == "1"
            assert await count(app, ProcessedUpdate) == 0  # nothing was done: it comes again

            await door.prepare()
            status, body = await served.get("/healthz")
            assert (status, body["status"], body["database"]) == (200, "ok", "ok")
            assert (await served.post(message(501, "/start"))).status == 200
            assert len(fake_telegram.users[501].bot_messages) == 2
    finally:
        door.stopping.set()
        await door.transport.close()


async def test_a_ready_replica_without_its_database_is_not_ready_but_alive(
    fake_telegram: FakeTelegram, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = await start(fake_telegram, app, "aiogram", poll=False)

    class Away:
        def connect(self) -> Any:
            raise ConnectionRefusedError("database away")

    try:
        async with Served(running.door) as served:
            with monkeypatch.context() as patch:
                patch.setattr(app.db, "engine", Away())
                status, body = await served.get("/healthz")
                assert (status, body["status"]) == (503, "unhealthy")
                assert body["database"] == "ConnectionRefusedError"
                assert (await served.get("/livez"))[0] == 200
            assert (await served.get("/healthz"))[0] == 200
    finally:
        await stop(running)


async def test_a_draining_replica_leaves_the_balancer_but_finishes_what_arrives(
    fake_telegram: FakeTelegram, app: App
) -> None:
    running = await start(fake_telegram, app, "aiogram", poll=False)
    door = running.door
    user = fake_telegram.user(502, language_code="en")
    try:
        async with Served(door) as served:
            assert (await served.get("/healthz"))[0] == 200
            door.stopping.set()  # what SIGTERM does
            status, body = await served.get("/healthz")
            assert (status, body["status"]) == (503, "draining")
            assert await served.get("/livez") == (200, {"status": "alive", "state": "draining"})
            # the balancer has not noticed yet: this one is still handled, and committed
            answer = await served.post(message(502, "/start"))
            assert answer.status == 200 and answer.headers["Connection"] == "close"
            assert len(user.bot_messages) == 2
            assert await count(app, ProcessedUpdate) == 1
            assert door.readiness.probes_draining == 1
    finally:
        await stop(running)


async def test_the_drain_ends_once_the_balancer_has_seen_it_and_sends_nothing_more(
    fake_telegram: FakeTelegram, app: App
) -> None:
    running = await start(fake_telegram, app, "aiogram", poll=False)
    readiness = running.door.readiness
    try:
        running.door.stopping.set()
        # nobody probes: the drain lasts its whole bound
        assert await readiness.drain(0.3) >= 0.3
        readiness.probes_draining = 1  # a balancer saw "draining"
        readiness.request()  # ... after a last request
        took = await readiness.drain(30)
        assert took < 30  # quiet for QUIET seconds after that request: done
    finally:
        await stop(running)
    never = new_door(app)
    never.stopping.set()
    assert await never.readiness.drain(30) == 0.0  # never ready, so nothing to drain


async def test_sigterm_finishes_the_update_in_hand_and_closes_the_port(
    fake_telegram: FakeTelegram, app: App
) -> None:
    """serve._drain: a slow update that arrived before SIGTERM is finished and committed
    before the replica exits, and afterwards the port is closed."""
    running = await start(fake_telegram, app, "aiogram", poll=False)
    door = running.door
    app.settings.drain_seconds = 0.2
    user = fake_telegram.user(503, language_code="en")
    deliver = door.outbox.deliver

    async def slow(action: Any) -> None:  # each reply takes a while
        await asyncio.sleep(0.5)
        await deliver(action)

    door.outbox.deliver = slow  # type: ignore[method-assign]
    port = free_port()
    runner = web.AppRunner(door.web_app("/tg", SECRET))
    await runner.setup()
    await GuardedSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            post = asyncio.create_task(
                http.post(
                    f"http://127.0.0.1:{port}/tg",
                    json=message(503, "/start"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
            )
            await fake_telegram.wait_until(lambda: door.progress.in_hand == 1, 10)
            left = await serve._drain(door, runner)  # SIGTERM now
            answer = await post
            assert answer.status == 200
            assert left > 0  # within SHUTDOWN_GRACE
            assert len(user.bot_messages) == 2 and door.progress.in_hand == 0
            with pytest.raises(aiohttp.ClientConnectorError):
                await http.get(f"http://127.0.0.1:{port}/livez")
    finally:
        await runner.cleanup()
        await stop(running)


# ---------------------------------------------------------------------- order


async def hold_replies(door: TelegramDoor) -> asyncio.Event:
    """Replica A is slow to send: its outbox deliveries wait until the event is set."""
    release = asyncio.Event()
    deliver = door.outbox.deliver

    async def slow(action: Any) -> None:
        await release.wait()
        await deliver(action)

    door.outbox.deliver = slow  # type: ignore[method-assign]
    return release


async def two_replicas(
    fake_telegram: FakeTelegram, app: App, guard: bool
) -> tuple[TelegramDoor, TelegramDoor]:
    """Two doors on one store: replica A (slow to send) and replica B."""
    a = await start(fake_telegram, app, "aiogram", poll=False)
    b = await start(fake_telegram, app, "aiogram", poll=False)
    for door in (a.door, b.door):
        door.earlier_replies = EarlierReplies(app.db, door.outbox) if guard else None
    return a.door, b.door


async def committed(app: App, update_id: int) -> None:
    for _ in range(200):
        async with app.db.unit() as repo:
            if await repo.session.get(ProcessedUpdate, update_id) is not None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update_id} never committed")


@pytest.mark.parametrize("guard", [False, True], ids=["without the guard", "with it"])
async def test_a_redelivery_is_confirmed_only_after_the_first_replicas_replies(
    fake_telegram: FakeTelegram, app: App, monkeypatch: pytest.MonkeyPatch, guard: bool
) -> None:
    """Replica A took /start and committed, but its replies are slow; Telegram timed out
    and delivered /start again, to replica B. Without the guard B confirms at once and the
    person's next update (/help, to B) is answered before A's welcome: the known gap. With
    it, B answers 503 while A's replies are on their way, and confirms once they are out."""
    monkeypatch.setattr(order, "WAIT", 0.3)
    a, b = await two_replicas(fake_telegram, app, guard)
    release = await hold_replies(a)
    user = fake_telegram.user(504, language_code="en")
    first = message(504, "/start")
    try:
        handled = asyncio.create_task(a.handle(a.transport.parse_update(first)))
        await committed(app, first["update_id"])
        assert user.bot_messages == []  # A has committed; its replies wait
        redelivery = b.transport.parse_update(first)
        if not guard:
            await b.handle(redelivery)  # confirmed at once ...
            await b.handle(b.transport.parse_update(message(504, "/help")))  # ... so next
            release.set()
            await handled
            texts = [m.content for m in user.bot_messages]
            assert "Here is what I can do" in texts[0]  # /help's answer came first
            assert "I am a bot" in texts[-2]
            return
        with pytest.raises(RepliesOnTheirWay):
            await b.handle(redelivery)  # 503: Telegram tries again later
        assert b.earlier_replies is not None and b.earlier_replies.waited == 1
        again = asyncio.create_task(b.handle(b.transport.parse_update(first)))
        await asyncio.sleep(0.1)
        assert not again.done()  # waits for A's replies ...
        release.set()
        await again  # ... and is confirmed once they are out
        assert len(user.bot_messages) == 2
        await handled
        await b.handle(b.transport.parse_update(message(504, "/help")))
        texts = [m.content for m in user.bot_messages]
        assert "I am a bot" in texts[0] and "Here is what I can do" in texts[-1]
        assert len(texts) == 3
    finally:
        release.set()
        for door in (a, b):
            door.stopping.set()
            await door.transport.close()


async def test_replies_a_killed_replica_left_unsent_hold_the_chat_until_the_leader_sends_them(
    fake_telegram: FakeTelegram, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica A died between its commit and its sends (its replies pending, untried).
    The redelivery to B is not confirmed (503) until the leader's outbox loop has sent
    them; then it is, and nothing is sent twice."""
    monkeypatch.setattr(order, "WAIT", 0.2)
    a, b = await two_replicas(fake_telegram, app, True)
    await hold_replies(a)  # never released: A is gone
    user = fake_telegram.user(505, language_code="en")
    first = message(505, "/start")
    try:
        killed = asyncio.create_task(a.handle(a.transport.parse_update(first)))
        await committed(app, first["update_id"])
        await asyncio.sleep(0.1)
        killed.cancel()
        await asyncio.gather(killed, return_exceptions=True)
        with pytest.raises(RepliesOnTheirWay):
            await b.handle(b.transport.parse_update(first))  # the redelivery: 503
        assert user.bot_messages == []  # B does not send A's replies itself
        assert await b.outbox.drain() == 2  # the leader's loop (rows past their 30 s)
        await b.handle(b.transport.parse_update(first))  # confirmed now
        texts = [m.content for m in user.bot_messages]
        assert len(texts) == 2 and "I am a bot" in texts[0]
        async with app.db.unit() as repo:
            rows = (await repo.session.execute(OutboxMessage.__table__.select())).all()
        assert {row.status for row in rows} == {"sent"}
    finally:
        for door in (a, b):
            door.stopping.set()
            await door.transport.close()


async def test_the_webhook_answers_503_while_earlier_replies_are_on_their_way(
    fake_telegram: FakeTelegram, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order, "WAIT", 0.2)
    a, b = await two_replicas(fake_telegram, app, True)
    release = await hold_replies(a)
    fake_telegram.user(506, language_code="en")
    first = message(506, "/start")
    try:
        handled = asyncio.create_task(a.handle(a.transport.parse_update(first)))
        await committed(app, first["update_id"])
        async with Served(b) as served:
            answer = await served.post(first)
            assert answer.status == 503 and answer.headers["Retry-After"] == "1"
            release.set()
            await handled
            assert (await served.post(first)).status == 200
    finally:
        release.set()
        for door in (a, b):
            door.stopping.set()
            await door.transport.close()


async def test_a_claim_whose_commit_answer_was_lost_is_undone_and_sent_once(
    fake_telegram: FakeTelegram, app: App
) -> None:
    """The database went away just as a reply's claim (pending -> sending) was committed:
    the replica saw an error and did not send it, but the row was "sending" and nobody
    would ever send it (the drill's PostgreSQL cut lost such a reply). Now exactly that
    claim is undone when the database is back, and the reply is sent once, still before
    the update's next reply (the fast path waits for the database instead of leaving the
    row to the loop, which sent it ~30 s later, after the person's next replies)."""
    import contextlib

    running = await start(fake_telegram, app, "aiogram", poll=False)
    door = running.door
    user = fake_telegram.user(507, language_code="en")

    class LostAnswer:
        """The first unit commits, then its connection fails as if the answer was lost."""

        def __init__(self, db: Any) -> None:
            self.db = db
            self.armed = True

        def __getattr__(self, name: str) -> Any:
            return getattr(self.db, name)

        @contextlib.asynccontextmanager
        async def unit(self) -> AsyncIterator[Any]:
            async with self.db.unit() as repo:
                yield repo
            if self.armed:
                self.armed = False
                raise ConnectionResetError("the answer to COMMIT was lost")

        @contextlib.asynccontextmanager
        async def connection(self) -> AsyncIterator[Any]:
            async with self.db.connection() as conn:
                yield conn
            if self.armed:
                self.armed = False
                raise ConnectionResetError("the answer to COMMIT was lost")

    lost = LostAnswer(app.db)
    door.outbox.db = lost  # type: ignore[assignment]
    door.outbox.ledger.db = lost  # type: ignore[assignment]  # claims are group-committed
    try:
        await door.handle(door.transport.parse_update(message(507, "/start")))
        assert not lost.armed  # the lost answer did happen
        assert await door.outbox.drain() == 0  # nothing left for the loop
        texts = [m.content for m in user.bot_messages]
        assert len(texts) == 2 and "I am a bot" in texts[0]  # once each, in order
        async with app.db.unit() as repo:
            rows = (await repo.session.execute(OutboxMessage.__table__.select())).all()
        assert {r.status for r in rows} == {"sent"}
    finally:
        await stop(running)
