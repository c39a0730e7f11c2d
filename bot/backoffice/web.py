"""The back office's Starlette application: sign-in, the guard every page passes, templates.

Every page is rendered on the server and works with JavaScript off; the only assets are
our stylesheet and SQLAdmin's own files, all served from this process (no CDN). Each
request handles its data in short units of work; charts are drawn after the unit, so the
bot's writes never wait for matplotlib.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.app import App
from bot.backoffice import auth
from bot.backoffice.auth import Viewer
from locales.i18n import LANGS, LANGUAGE_NAMES, Translator

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
LANG_COOKIE = "kierto_lang"
Handler = Callable[[Request, Viewer], Awaitable[Response]]


class Backoffice:
    """What the pages share: the bot's app (store, knowledge, catalogs) and templates."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.db = app.db
        self.kb = app.kb
        self.i18n = app.i18n
        self.settings = app.settings
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @property
    def secure(self) -> bool:
        url = self.settings.admin_url or ""
        return url.startswith("https://")

    def translator(self, request: Request, viewer: Viewer | None) -> Translator:
        lang = request.cookies.get(LANG_COOKIE, "")
        if lang not in LANGS:
            lang = viewer.locale if viewer and viewer.locale in LANGS else self.i18n.default
        return self.i18n(lang)

    def render(
        self,
        request: Request,
        viewer: Viewer | None,
        template: str,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        t = self.translator(request, viewer)

        def link(path: str, **params: Any) -> str:
            clean = {k: v for k, v in params.items() if v not in (None, "")}
            return path + ("?" + urlencode(clean) if clean else "")

        html = self.env.get_template(template).render(
            _=t._,
            n_=t.n_,
            t=t,
            lang=t.lang,
            langs=[(code, LANGUAGE_NAMES[code]) for code in LANGS],
            viewer=viewer,
            path=request.url.path,
            here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            link=link,
            status_label=self.status_labels(t),
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @staticmethod
    def status_labels(t: Translator) -> dict[str, str]:
        """Queue statuses as coordinators read them (a ticket's stored "open" is "new")."""
        return {
            "open": t._("new"),
            "new": t._("new"),
            "in_progress": t._("in progress"),
            "answered": t._("answered"),
            "contacted": t._("contacted"),
            "closed": t._("closed"),
        }

    def error(self, request: Request, viewer: Viewer | None, status: int, text: str) -> Response:
        return self.render(request, viewer, "error.html", status=status, message=text)

    def sign_in_first(self, request: Request) -> Response:
        t = self.translator(request, None)
        return self.render(
            request,
            None,
            "login.html",
            status=401,
            token="",
            message=t._("Please sign in: send /admin to the bot to get a sign-in link."),
        )

    def guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Only a live session whose roles allow the path reaches `handler`; anyone else
        gets the sign-in page (no session) or a refusal (a staff session on a
        coordinator page), with nothing of the page's data."""

        async def endpoint(request: Request) -> Response:
            async with self.db.unit() as repo:
                viewer = await auth.viewer(request, repo, self.settings.admin_ids)
            if viewer is None:
                return self.sign_in_first(request)
            if not viewer.may_open(request.url.path):
                t = self.translator(request, viewer)
                return self.error(
                    request, viewer, 403, t._("Your role does not give access to this page.")
                )
            if request.method == "POST":
                form = await request.form()
                if not auth.csrf_ok(viewer, form.get("csrf")):
                    t = self.translator(request, viewer)
                    return self.error(
                        request,
                        viewer,
                        403,
                        t._("The form had expired. Please go back, reload the page and try again."),
                    )
            return await handler(request, viewer)

        return endpoint


# ---------------------------------------------------------------------- sign-in


async def login_page(bo: Backoffice, request: Request) -> Response:
    t = bo.translator(request, None)
    token = request.query_params.get("t", "")[:100]
    message = "" if token else t._("Send /admin to the bot to get a sign-in link.")
    return bo.render(request, None, "login.html", token=token, message=message)


async def login(bo: Backoffice, request: Request) -> Response:
    form = await request.form()
    token = str(form.get("t", ""))[:100]
    async with bo.db.unit() as repo:
        user_id = await repo.logins.redeem(token)
        roles = (
            auth.roles_of(await repo.users.get(user_id), bo.settings.admin_ids)
            if user_id
            else frozenset()
        )
        cookie = ""
        if user_id is not None and roles:
            cookie, _ = await repo.sessions.start(user_id)
            repo.audit.log("admin_sign_in", actor_id=user_id)
    if not cookie:
        t = bo.translator(request, None)
        return bo.render(
            request,
            None,
            "login.html",
            status=403,
            token="",
            message=t._(
                "This sign-in link is not valid: it was used already, it is older than "
                "10 minutes, or it was mistyped. Send /admin to the bot for a new one."
            ),
        )
    target = "/" if "coordinator" in roles else "/tickets"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(auth.COOKIE, cookie, **auth.cookie_args(bo.secure))  # type: ignore[arg-type]
    return response


async def logout(bo: Backoffice, request: Request, viewer: Viewer) -> Response:
    async with bo.db.unit() as repo:
        await repo.sessions.end(request.cookies.get(auth.COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


async def set_lang(bo: Backoffice, request: Request) -> Response:
    lang = request.query_params.get("to", "")
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # only our own pages: no open redirect
    response = RedirectResponse(target, status_code=303)
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True
        )
    return response


def create_app(app: App) -> Starlette:
    from bot.backoffice import events, pages, queues, tables

    bo = Backoffice(app)

    def wrap(fn: Callable[..., Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        return bo.guard(lambda request, viewer: fn(bo, request, viewer))

    routes = [
        Route("/login", partial(login_page, bo), methods=["GET"]),
        Route("/login", partial(login, bo), methods=["POST"]),
        Route("/lang", partial(set_lang, bo), methods=["GET"]),
        Route("/logout", wrap(logout), methods=["POST"]),
        *pages.routes(wrap),
        *queues.routes(wrap),
        *events.routes(wrap),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = Starlette(routes=routes)
    tables.mount(bo, web)
    return web
