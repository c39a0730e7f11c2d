"""Back office benchmark: how long its heaviest pages and the exports take on many
companies (made-up data, SQLite in a temporary file).

    .venv/bin/python bench/backoffice.py                 # 500 companies
    .venv/bin/python bench/backoffice.py --companies 2000

Prints the wall time of: the companies list query (all filters' data), the dashboard's
figures, the XLSX and the CSV export, and the size of each export.
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

from dialogs import stats  # noqa: E402
from dialogs.render import exports  # noqa: E402
from dialogs.store.db import Database  # noqa: E402
from knowledge.loader import load  # noqa: E402
from tests.backoffice.seed import seed  # noqa: E402


async def main(companies: int) -> None:
    kb = load()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.migrate()
        started = time.perf_counter()
        await seed(db, kb, count=companies)
        print(f"seeded {companies} companies in {time.perf_counter() - started:.1f} s")
        async with db.unit() as repo:
            for name, work in (
                ("companies list", lambda: stats.rows(repo)),
                ("dashboard", lambda: stats.dashboard(repo, kb)),
                ("export xlsx", lambda: exports.export(repo, kb, "xlsx")),
                ("export csv (zip)", lambda: exports.export(repo, kb, "csv")),
            ):
                started = time.perf_counter()
                result = await work()
                took = time.perf_counter() - started
                size = f", {len(result) / 1024:.0f} KiB" if isinstance(result, bytes) else ""
                print(f"{name:18} {took * 1000:8.0f} ms{size}")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=500)
    asyncio.run(main(parser.parse_args().companies))
