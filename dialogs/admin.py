"""`/admin`: a one-time sign-in link to the coordinators' back office.

Only in a private chat (a link posted in a group could be opened by anyone there) and only
for staff and coordinators. The link is valid for 10 minutes and signs in once.
"""

from __future__ import annotations

from dialogs.router import CommandInfo, Context, Router
from dialogs.ui import esc
from locales.i18n import N_

router = Router("admin")
# Staff and coordinators both may ask, so the role is checked below; listed in their menus.
router.help.append(CommandInfo("admin", N_("a sign-in link to the back office"), "staff"))
DEFAULT_URL = "http://127.0.0.1:8081"


@router.command("admin")
async def admin(ctx: Context, args: str) -> None:
    if not (ctx.has_role("staff") or ctx.has_role("coordinator")):
        ctx.send(
            ctx._("That command is for the programme's staff. /help lists what I can do for you.")
        )
        return
    if not ctx.event.sender.is_private:
        ctx.send(ctx._("Send /admin to me in a private chat: a sign-in link is personal."))
        return
    token = await ctx.repo.logins.issue(ctx.user.id)
    base = (ctx.services.admin_url or DEFAULT_URL).rstrip("/")
    url = esc(f"{base}/login?t={token}")
    anchor = '<a href="' + url + '">' + url + "</a>"
    ctx.send(
        ctx._(
            "🔐 Your sign-in link to the back office (valid for 10 minutes, works once):\n{link}",
            link=anchor,
        )
    )
