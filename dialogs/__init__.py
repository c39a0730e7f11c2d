"""The conversation engine and its flows, free of any Telegram library.

`Engine.handle(event) -> list[Action]` is the whole surface; `routers()` lists the flows
and commands that make up kierto-bot, in the order they are wired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialogs.router import Router


def routers() -> list[Router]:
    from dialogs import (
        account,
        admin,
        faq,
        handoff,
        kartoitus,
        placement,
        results,
        review,
        start,
    )
    from dialogs.haastepaja import rsvp as haastepaja_rsvp
    from dialogs.haastepaja import staff as haastepaja_staff

    # in this order the commands are listed in /help and Telegram's command menus
    return [
        start.router,
        kartoitus.router,
        results.router,
        placement.router,
        faq.router,
        handoff.router,
        account.router,
        review.router,
        admin.router,
        haastepaja_rsvp.router,
        haastepaja_staff.router,
    ]
