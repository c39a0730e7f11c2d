"""The back office in a real browser: Debian's Chromium, headless, driven by Playwright,
with JavaScript turned off (every page must work without it).

Skips on a machine without /usr/bin/chromium (saying so); with CI=true it fails instead,
so CI never passes without having run it. `.ci/run` installs Chromium when it is missing.
Set SCREENSHOTS=1 to refresh the README's screenshots under docs/.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from bot.app import build_app
from bot.config import Settings
from tests.backoffice.conftest import COORDINATOR, STAFF, link_from_bot
from tests.backoffice.seed import seed
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"
EVIL = "=cmd|' /C calc'!A0"


def _need_browser() -> Any:
    reason = ""
    if not CHROMIUM.exists():
        reason = "Debian chromium is not installed (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "the playwright package is not installed (pip install -e .[dev])"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


class LiveServer:
    """The bot's app and back office on a free port, in a thread with its own loop."""

    def __init__(self, db_path: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            _env_file=None,
            database_url=f"sqlite+aiosqlite:///{db_path}",
            admin_ids=str(COORDINATOR),
            admin_url=self.url,
        )
        self.ready: Future[None] = Future()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        from bot.backoffice.serve import server

        try:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self.app = await build_app(self.settings)
            await seed(self.app.db, self.app.kb, first_name=EVIL)
            async with self.app.db.unit() as repo:
                user, _ = await repo.users.lock(STAFF, "fi")
                user.roles = "staff"
            srv = server(self.app, f"127.0.0.1:{self.port}")
            task = asyncio.create_task(srv.serve())
            while not srv.started:  # noqa: ASYNC110  (uvicorn offers no event)
                await asyncio.sleep(0.02)
            self.ready.set_result(None)
            await self.stop.wait()
            srv.should_exit = True
            await task
            await self.app.close()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    def link(self, user_id: int) -> str:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(link_from_bot(self.app, user_id), self.loop)
        return future.result(timeout=30)

    def close(self) -> None:
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "live.db")
    server.thread.start()
    server.ready.result(timeout=120)
    yield server
    server.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect  # retries until it holds

    return playwright_expect(locator)


def _sign_in(page: Any, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Kirjaudu hallintaan").click()


def test_coordinator_reviews_filters_and_exports(
    live: LiveServer, browser: Any, tmp_path: Path
) -> None:
    shots = os.environ.get("SCREENSHOTS") == "1"
    context = browser.new_context(
        java_script_enabled=False,
        accept_downloads=True,
        locale="fi-FI",
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    link = live.link(COORDINATOR)
    _sign_in(page, link)
    page.wait_for_url(live.url + "/")
    expect(page.get_by_role("heading", name="Yleiskuva")).to_be_visible()
    assert page.locator("img.chart").count() >= 3  # charts drawn by the bot's chart code
    if shots:
        page.screenshot(path=str(DOCS / "backoffice-dashboard.png"), full_page=True)

    page.goto(live.url + "/companies")
    page.get_by_label("Haku").fill("pirkan")
    page.get_by_role("button", name="Suodata").click()
    page.wait_for_url("**/companies?*q=pirkan*")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Pirkan Puu Oy")
    page.goto(live.url + "/companies")
    page.get_by_label("Toimiala").select_option("manufacturing")
    page.get_by_role("button", name="Suodata").click()
    page.wait_for_url("**/companies?*industry=manufacturing*")
    expect(page.locator("tbody tr")).to_have_count(14)
    if shots:
        page.screenshot(path=str(DOCS / "backoffice-companies.png"), full_page=True)

    page.get_by_role("link", name="Pirkan Puu Oy").click()
    expect(page.get_by_role("heading", name="Pirkan Puu Oy")).to_be_visible()
    body = page.locator("table.answers").inner_text()
    assert live.app.kb.questions["ma1"].text.fi in body  # the questions in Finnish
    assert "Vastaukset" in page.content()
    if shots:
        page.screenshot(path=str(DOCS / "backoffice-company.png"), full_page=True)

    page.goto(live.url + "/companies")
    with page.expect_download() as download:
        page.get_by_role("link", name="Vie XLSX").click()
    saved = tmp_path / "export.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames[:4] == ["companies", "assessments", "answers", "leads"]
    assert book.sheetnames[-1] == "codebook"
    names = [row[1] for row in book["companies"].iter_rows(min_row=2, values_only=True)]
    assert "'" + EVIL in names and EVIL not in names

    # a reply written in the web is stored in the ticket (the outbox takes it to Telegram)
    page.goto(live.url + "/tickets/1")
    page.get_by_label("Vastaus (botti välittää sen henkilölle)").fill("Soitan sinulle huomenna.")
    page.get_by_role("button", name="Lähetä vastaus").click()
    page.wait_for_url("**/tickets/1?sent=1")
    expect(page.locator("ol.conversation li")).to_have_count(2)
    assert "Soitan sinulle huomenna." in page.locator("ol.conversation").inner_text()
    assert "tila: vastattu" in page.content()
    if shots:
        page.screenshot(path=str(DOCS / "backoffice-ticket.png"), full_page=True)
        phone = browser.new_context(
            java_script_enabled=False,
            viewport={"width": 390, "height": 844},
            device_scale_factor=1,
            locale="fi-FI",
        )
        mobile = phone.new_page()
        _sign_in(mobile, live.link(COORDINATOR))
        mobile.wait_for_url(live.url + "/")
        mobile.screenshot(path=str(DOCS / "backoffice-phone.png"))
        phone.close()

    # the link was spent: a second browser gets nothing with it
    other = browser.new_context(java_script_enabled=False, locale="fi-FI")
    again = other.new_page()
    _sign_in(again, link)
    expect(again.locator("p.note")).to_contain_text("ei kelpaa")
    response = again.goto(live.url + "/companies")
    assert response is not None and response.status == 401
    assert "Pirkan" not in again.content()
    other.close()
    context.close()


def test_staff_session_is_refused_coordinator_pages(live: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="fi-FI")
    page = context.new_page()
    _sign_in(page, live.link(STAFF))
    page.wait_for_url(live.url + "/tickets")
    expect(page.get_by_role("heading", name="Tiketit")).to_be_visible()
    for path in ("/", "/companies", "/companies/1", "/export/xlsx", "/tables/"):
        response = page.goto(live.url + path)
        assert response is not None and response.status == 403, path
        assert "Roolisi ei anna pääsyä tälle sivulle." in page.content()
        assert "Pirkan" not in page.content()
    context.close()
