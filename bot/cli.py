"""`kierto-bot` (also `python -m bot`): every way to start, check and look after the bot."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.replicas import ReplicaRefused
from knowledge.loader import KnowledgeError

log = logging.getLogger("kierto-bot")

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kierto-bot",
        description="Telegram assistant of the City of Tampere's KIERTO programme. "
        "Settings come from the environment or a .env file (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("start", help="Telegram polling when BOT_TOKEN is set, else the console chat")

    chat = sub.add_parser("chat", help="talk to the bot in this terminal (no token needed)")
    chat.add_argument("--user", type=int, default=1, help="your user id in the store (default 1)")
    chat.add_argument(
        "--lang", choices=["fi", "en", "sv"], help="your language (default: DEFAULT_LOCALE)"
    )
    chat.add_argument(
        "--out",
        type=Path,
        default=Path("data/console-files"),
        help="where photos and documents are saved",
    )

    run = sub.add_parser("run", help="serve Telegram with long polling")
    run.add_argument("--runtime", choices=["aiogram", "ptb"], default="aiogram")

    webhook = sub.add_parser("webhook", help="serve Telegram through a webhook (aiohttp)")
    webhook.add_argument("--runtime", choices=["aiogram", "ptb"], default="aiogram")

    sub.add_parser(
        "admin", help="serve the coordinators' back office on ADMIN_LISTEN (default 127.0.0.1:8081)"
    )
    export = sub.add_parser("export", help="export the collected data for reporting")
    export.add_argument("--format", choices=["xlsx", "csv"], required=True)
    export.add_argument(
        "--anonymised",
        action="store_true",
        help="no Telegram ids, company names, Y-tunnus or free text",
    )
    export.add_argument("--out", type=Path, required=True, help="file to write (csv: a .zip)")
    export.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply migrations (also done at every start)")
    revision = db_sub.add_parser("revision", help="autogenerate a migration (developers)")
    revision.add_argument("-m", "--message", required=True)

    kb = sub.add_parser("kb", help="knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    check = kb_sub.add_parser("check", help="validate the YAML files, print file:line problems")
    check.add_argument(
        "dir", nargs="?", type=Path, help="knowledge directory (default: the bot's own)"
    )

    i18n = sub.add_parser("i18n", help="translation catalogs")
    i18n_sub = i18n.add_subparsers(dest="i18n_command", metavar="ACTION", required=True)
    i18n_sub.add_parser("update", help="extract strings from the code and merge the catalogs")
    i18n_sub.add_parser("check", help="list strings missing a translation")

    sub.add_parser("flows", help="print every flow's steps and transitions (Mermaid)")

    users = sub.add_parser("users", help="staff and coordinator roles")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    for action in ("grant", "revoke"):
        p = users_sub.add_parser(action, help=f"{action} a role")
        p.add_argument("user_id", type=int)
        p.add_argument("role", choices=["staff", "coordinator"])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "kb":
        return _kb_check(args.dir)
    if args.command == "flows":
        from dialogs import routers
        from dialogs.diagram import document

        print(document(routers()), end="")
        return 0
    if args.command == "i18n":
        from bot import i18n_tools

        return i18n_tools.update() if args.i18n_command == "update" else i18n_tools.check()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"kierto-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    quiet = args.command in ("chat",) or (args.command == "start" and not settings.bot_token)
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command in ("run", "webhook") and not settings.bot_token:
        # before anything touches the database
        print(
            "kierto-bot: configuration error: BOT_TOKEN: required for Telegram "
            "(get one from @BotFather)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if args.command == "webhook" and (not settings.webhook_url or settings.webhook_secret is None):
        # before anything touches the database (each replica checks its own settings)
        missing = "WEBHOOK_URL" if not settings.webhook_url else "WEBHOOK_SECRET"
        print(
            f"kierto-bot: configuration error: {missing}: required for the webhook (every "
            "replica needs the same WEBHOOK_URL and WEBHOOK_SECRET)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        return asyncio.run(_async_main(args, settings))
    except KnowledgeError as exc:
        print(
            "kierto-bot: the knowledge base has problems; fix them and start again:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except ReplicaRefused as exc:
        print(f"kierto-bot: cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:
        from bot.startup import explain

        listen = {"webhook": "WEBHOOK_LISTEN", "run": "HEALTH_LISTEN"}.get(args.command)
        if args.command == "start" and settings.bot_token:
            listen = "HEALTH_LISTEN"
        line = explain(exc, database_url=settings.database_url, listen_setting=listen)
        if line is None:
            raise
        print(f"kierto-bot: cannot start: {line}", file=sys.stderr)
        return EXIT_CONFIG


def _kb_check(directory: Path | None) -> int:
    from knowledge.loader import check

    if directory is None:  # the folder the bot itself would load (KNOWLEDGE_DIR)
        try:
            directory = load_settings().knowledge_dir
        except ConfigError as exc:
            print(f"kierto-bot: configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    _, problems = check(directory)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.warning]
    if errors:
        print(f"{len(errors)} problem(s)", file=sys.stderr)
        return 1
    warnings = len(problems)
    print(f"knowledge base OK, {warnings} warning(s)" if warnings else "knowledge base OK")
    return 0


async def _async_main(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_app

    if args.command == "db":
        from dialogs.store.db import Database

        db = Database(settings.database_url)
        try:
            if args.db_command == "upgrade":
                await db.migrate()
                print("database is up to date")
            else:
                await db.revision(args.message)
        finally:
            await db.dispose()
        return 0
    if args.command == "users":
        return await _users(args, settings)
    if args.command == "export":
        return await _export(args, settings)

    command = args.command
    if command == "start":
        command = "run" if settings.bot_token else "chat"
        if command == "chat":
            print("No BOT_TOKEN set: starting the console chat (see README for Telegram).")
    if command in ("run", "webhook") and settings.bot_token:
        return await _telegram(args, settings, command)
    app = await build_app(settings)
    try:
        if command == "admin":
            return await _admin(app)
        if command == "chat":
            from bot.adapters.console import ConsoleDoor

            door = ConsoleDoor(
                app.engine,
                user_id=args.user if hasattr(args, "user") else 1,
                lang=getattr(args, "lang", None) or settings.default_locale,
                out_dir=getattr(args, "out", Path("data/console-files")),
            )
            await door.run()
            return 0
        print(
            "kierto-bot: configuration error: BOT_TOKEN: required for Telegram "
            "(get one from @BotFather)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    finally:
        await app.close()


async def _telegram(args: argparse.Namespace, settings: Settings, command: str) -> int:
    """Polling or a webhook replica: take this process's place among its peers (which may
    refuse it, see bot/replicas.py) before the schema is migrated, then serve."""
    import gc

    # Start-up builds some 400,000 objects that live as long as the process; the collector
    # walked them all again and again while they were made (about 0.7 s of full collections
    # at every start). Off until `serve.settle` collects once and freezes them.
    gc.disable()
    try:
        return await _serve(args, settings, command)
    finally:
        gc.enable()


async def _serve(args: argparse.Namespace, settings: Settings, command: str) -> int:
    from bot.adapters import serve
    from bot.app import build_app
    from bot.replicas import make_replica

    app = await build_app(settings, migrate=False)
    replica = make_replica(settings, app.db, "poll" if command == "run" else "webhook")
    try:
        await replica.join()
        async with replica.migrating():
            await app.db.migrate()
    except BaseException:
        await replica.close()
        await _sqlite_threads_done()
        raise
    try:
        await replica.start()
        runtime = getattr(args, "runtime", "aiogram")
        if command == "webhook":
            return await serve.webhook(app, runtime, replica)
        return await serve.polling(app, runtime, replica)
    finally:
        await replica.close()
        await app.close()


async def _sqlite_threads_done() -> None:
    """A SQLite file that failed to open leaves aiosqlite's worker thread closing it; let it
    hand back its result before the event loop closes (else it dies with a traceback)."""
    import threading

    for _ in range(100):  # a second at most
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


async def _users(args: argparse.Namespace, settings: Settings) -> int:
    from dialogs.store.db import Database

    db = Database(settings.database_url)
    try:
        await db.migrate()
        async with db.unit() as repo:
            user, _ = await repo.users.lock(args.user_id, settings.default_locale)
            roles = {r for r in user.roles.split(",") if r}
            if args.users_command == "grant":
                roles.add(args.role)
            else:
                roles.discard(args.role)
            user.roles = ",".join(sorted(roles))
            repo.audit.log(f"{args.users_command}_{args.role}", subject=str(args.user_id))
        print(f"user {args.user_id}: roles = {user.roles or '(none)'}")
    finally:
        await db.dispose()
    return 0


async def _admin(app: object) -> int:
    from bot.adapters.telegram import install_signal_handlers
    from bot.app import App
    from bot.backoffice.serve import run
    from bot.scheduler import start_maintenance

    assert isinstance(app, App)
    listen = app.settings.admin_listen or "127.0.0.1:8081"
    stopping = asyncio.Event()
    install_signal_handlers(stopping)
    scheduler = start_maintenance(app)
    url = app.settings.admin_url or f"http://{listen}"
    print(f"Back office at {url} — send /admin to the bot (or in `kierto-bot chat`) to sign in.")
    try:
        await run(app, listen, stopping)
    finally:
        scheduler.shutdown(wait=False)
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from dialogs.render.exports import ExportTooLarge, export
    from dialogs.stats import Filters
    from dialogs.store.db import Database
    from knowledge.loader import load

    params = {"date_from": args.date_from or "", "date_to": args.date_to or ""}
    kb = load(settings.knowledge_dir)
    filters, bad = Filters.parse(params, kb)
    if bad:
        print(f"kierto-bot: not a date (YYYY-MM-DD): {', '.join(bad)}", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        await db.migrate()
        async with db.unit() as repo:
            try:
                data = await export(repo, kb, args.format, filters, args.anonymised)
            except ExportTooLarge as exc:
                print(f"kierto-bot: too many rows in {exc}; narrow --from/--to", file=sys.stderr)
                return 1
            action = f"export_{args.format}" + ("_anon" if args.anonymised else "")
            repo.audit.log(action, subject="cli")
    finally:
        await db.dispose()
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    return 0
