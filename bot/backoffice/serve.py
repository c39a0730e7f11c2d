"""Serve the back office with uvicorn, alone (`kierto-bot admin`) or beside the webhook."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from bot.app import App
from bot.backoffice.web import create_app

log = logging.getLogger(__name__)


def server(app: App, listen: str) -> uvicorn.Server:
    host, _, port = listen.rpartition(":")
    config = uvicorn.Config(
        create_app(app),
        host=host,
        port=int(port),
        log_level="warning",
        access_log=False,  # URLs can carry filter values; the audit log records what matters
        lifespan="off",
        proxy_headers=True,
    )
    srv = uvicorn.Server(config)
    srv.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the caller's
    return srv


async def run(app: App, listen: str, stopping: asyncio.Event) -> None:
    """Serve until `stopping` is set."""
    srv = server(app, listen)
    task = asyncio.create_task(srv.serve())
    log.info("back office listening on %s", listen)
    try:
        await stopping.wait()
    finally:
        srv.should_exit = True
        await task
