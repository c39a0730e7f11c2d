"""The short form of the replica drill (bench/drill_replicas.py --short): three webhook
replicas under steady traffic, one killed with SIGKILL and started again; nothing may be
lost, answered twice or stored twice. A reply whose request was in flight at the kill is
counted apart (the outbox sends at most once: such a row is never sent again), and there
can be no more of those than requests a replica keeps in flight."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.test_replica_cluster import redis_or_skip

ROOT = Path(__file__).resolve().parent.parent


async def test_replica_kill_drill_loses_nothing() -> None:
    from tests.conftest import PG_URL, REDIS_URL, service_missing

    try:
        import asyncpg

        conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""), timeout=5)
        await conn.close()
    except (OSError, Exception) as exc:
        service_missing(f"PostgreSQL at {PG_URL}", str(exc))
    await redis_or_skip()
    env = {**os.environ, "DRILL_REDIS": REDIS_URL, "TEST_DATABASE_URL": PG_URL}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "drill_replicas.py"), "--short",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 600)
    text = out.decode()
    assert process.returncode == 0, text
    line = next(row for row in text.splitlines() if row.startswith("replica-kill"))
    for figure in ("answered twice   0", "lost   0", "stored twice   0", "not stored   0"):
        assert figure in line, text
    assert "replica 1 killed; started again" in text
    in_flight = re.search(r"in flight at a kill +(\d+)", line)
    assert in_flight is not None and int(in_flight[1]) <= 16, text  # IN_FLIGHT in outbox.py
