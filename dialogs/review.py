"""Coordinators' quick views in the chat: leads and statistics.

Leads are the people who asked to be contacted (companies after a kartoitus, job seekers
interested in a placement). Viewing them is written to the audit log. The texts are made
in dialogs/quickviews.py from the same figures as the back office (dialogs/stats.py).
"""

from __future__ import annotations

from dialogs import quickviews
from dialogs.router import Context, Router
from locales.i18n import N_

router = Router("review")


@router.command(
    "leads", role="coordinator", help=N_("new contact requests and placement interests")
)
async def leads(ctx: Context, args: str) -> None:
    await quickviews.leads(ctx, args)


@router.command("stats", role="coordinator", help=N_("kartoitus statistics: /stats or /stats 30"))
async def stats(ctx: Context, args: str) -> None:
    await quickviews.stats_view(ctx, args)
