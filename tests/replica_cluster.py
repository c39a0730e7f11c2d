"""Real `kierto-bot webhook` replicas behind the test balancer, for tests and drills.

    async with FakeTelegram() as fake:
        url = await fresh_database()
        cluster = await Cluster(fake, url, workdir, n=3).start()
        ...                       # users talk; fake Telegram delivers to cluster.balancer
        await cluster.kill(0)     # SIGKILL; cluster.restart(0) brings it back
        await cluster.close()
        await drop_database(url)

The fake Bot API plays Telegram: it delivers each chat's updates one at a time to the
webhook (the balancer, which hands them to the replicas in turn) and retries a non-2xx
or timed-out delivery. Each replica is a subprocess with its own port and log file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.balancer import Balancer
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SECRET = "cluster-secret-0123456789"
HOOK_PATH = "/tg/hook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fresh_database(prefix: str = "kb_cluster") -> str:
    """A new, empty PostgreSQL database (subprocesses cannot be given a test schema)."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


class ReplicaProcess:
    def __init__(self, index: int, port: int, env: dict[str, str], workdir: Path) -> None:
        self.index = index
        self.port = port
        self.env = env
        self.workdir = workdir
        self.log = workdir / f"replica-{index}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, *args: str) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "webhook", *args,
                cwd=self.workdir, env=self.env,
                stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def healthy(self, seconds: float = 180.0) -> None:
        """Wait until /healthz answers 200 (the replica is ready: tests/balancer.py sends
        it requests from then on)."""
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise RuntimeError(
                        f"replica {self.index} exited ({self.process.returncode}):\n"
                        + self.log.read_text(errors="replace")[-3000:]
                    )
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with session.get(
                        self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"replica {self.index} not healthy in {seconds:.0f} s")
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, seconds: float = 30.0) -> int:
        """SIGTERM, then wait for the replica to finish what it has in hand."""
        assert self.process is not None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), seconds)
            except TimeoutError:
                await self.kill()
        return self.process.returncode or 0


class Cluster:
    def __init__(
        self,
        fake: FakeTelegram,
        database_url: str,
        workdir: Path,
        *,
        n: int = 3,
        redis_url: str | None = None,
        mirror: Callable[[bytes], bool] | None = None,
        env: dict[str, str] | None = None,
        code: Path = ROOT,
    ) -> None:
        self.code = code  # the checkout whose bot the replicas run (a drill's baseline)
        self.fake = fake
        self.database_url = database_url
        self.workdir = workdir
        self.n = n
        self.redis_url = redis_url
        self.mirror = mirror
        self.extra_env = env or {}
        self.replicas: list[ReplicaProcess] = []
        self.balancer: Balancer | None = None

    def _env(self, port: int, webhook_url: str) -> dict[str, str]:
        env = {
            **os.environ,
            "BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_URL": self.fake.base_url,
            "DATABASE_URL": self.database_url,
            "WEBHOOK_URL": webhook_url,
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "FLOOD_RATE": "1000",
            "FLOOD_BURST": "1000",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(self.code),
            "KNOWLEDGE_DIR": str(self.code / "knowledge"),
        }
        # a restarted replica reuses the bytecode of its first start, as an installed
        # package does (compiling every module again costs seconds of CPU at each start)
        for name in ("ADMIN_IDS", "STAFF_CHAT_ID", "REDIS_URL", "HEALTH_LISTEN",
                     "PYTHONDONTWRITEBYTECODE"):  # fmt: skip
            env.pop(name, None)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    async def start(self) -> Cluster:
        ports = [free_port() for _ in range(self.n)]
        self.balancer = await Balancer(
            [f"http://127.0.0.1:{p}" for p in ports], mirror=self.mirror
        ).start()
        webhook_url = self.balancer.url + HOOK_PATH
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.replicas = [
            ReplicaProcess(i, port, self._env(port, webhook_url), self.workdir)
            for i, port in enumerate(ports)
        ]
        for replica in self.replicas:
            await replica.start()
        await asyncio.gather(*(r.healthy() for r in self.replicas))
        # every replica has prepared (its setWebhook comes last): a replica still busy
        # starting could hold a delivery past Telegram's timeout, and the redelivery would
        # be acknowledged before the first one's replies are out (see README)
        await self.wait(
            lambda: (
                self.fake.webhook_url == webhook_url and self.fake.counts["setWebhook"] >= self.n
            ),
            60,
            "the webhook",
        )
        return self

    async def kill(self, index: int) -> None:
        await self.replicas[index].kill()

    async def restart(self, index: int) -> None:
        replica = self.replicas[index]
        if replica.running:
            await replica.terminate()
        await replica.start()
        await replica.healthy()

    async def close(self) -> list[int]:
        codes = [await r.terminate() for r in self.replicas if r.process is not None]
        if self.balancer is not None:
            await self.balancer.stop()
        return codes

    def logs(self) -> str:
        return "\n".join(r.log.read_text(errors="replace") for r in self.replicas if r.log.exists())

    @staticmethod
    async def wait(predicate: Callable[[], object], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what} after {seconds:.0f} s")
            await asyncio.sleep(0.05)


async def leader_holders(database_url: str) -> int:
    """How many sessions hold the leader lock (bot/replicas.py) in this database."""
    import asyncpg

    from bot.replicas import LEADER

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=5)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND objid::int8 = $1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            LEADER,
        )
    finally:
        await conn.close()
