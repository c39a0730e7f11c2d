"""First contact and the menu.

/start greets, says plainly that this is a bot, who runs it and what it stores, and asks who
you are; a returning user gets a short welcome back and the menu instead. The menu
(`m:<entry>`) leads to every flow. Who runs the bot and whether a person answers come from
the operator profile: without staff, nothing here promises a person. The always-available
commands (/help, /cancel, /settings, /privacy, /mydata, /forget) are in `dialogs.account`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dialogs.actions import Btn, Keyboard
from dialogs.payload import Payload
from dialogs.router import Context, Router
from dialogs.ui import esc, rows
from locales.i18n import N_

router = Router("start")

ROLES = ("company", "jobseeker", "visitor")
MenuEntry = Literal[
    "company",
    "jobseeker",
    "visitor",
    "kartoitus",
    "tyopaja",
    "ask",
    "human",
    "settings",
    "resume",
    "menu",
]


@dataclass(frozen=True)
class MenuPayload(Payload, prefix="m"):
    entry: MenuEntry


def menu_button(label: str, entry: MenuEntry) -> Btn:
    """A menu entry as a button (other modules offer the kartoitus, the finder, the menu)."""
    return Btn(label, MenuPayload(entry).pack())


def menu_keyboard(ctx: Context) -> Keyboard:
    buttons = [
        menu_button(ctx._("🏢 KIERTO-kartoitus for companies"), "kartoitus"),
        menu_button(ctx._("🧰 Find a workshop placement"), "tyopaja"),
        menu_button(ctx._("❓ Ask a question"), "ask"),
        menu_button(
            ctx._("🙋 Talk to a person")
            if ctx.kb.staff_answer
            else ctx._("🙋 How to reach a person"),
            "human",
        ),
        menu_button(ctx._("⚙️ Settings"), "settings"),
    ]
    if ctx.in_flow:
        buttons.insert(0, menu_button(ctx._("▶️ Continue where I left off"), "resume"))
    return rows(buttons)


async def show_menu(ctx: Context, text: str | None = None) -> None:
    ctx.send(text or ctx._("What would you like to do?"), menu_keyboard(ctx))


@router.command("start", help=N_("start again and choose what to do"))
async def start(ctx: Context, args: str) -> None:
    """Greet; a deep-link payload (`/start tyopaja`) goes straight to what it names (after
    the first-contact notice: everyone hears once that this is a bot and what it stores)."""
    payload = args.strip()
    if payload:
        if ctx.first_contact:
            ctx.send(f"{greeting_text(ctx)}\n\n{stored_text(ctx)}")
        if await ctx.open_deeplink(payload):
            return
    if not ctx.first_contact:
        # they have read the introduction before: a short welcome back, then the menu
        await show_menu(ctx, ctx._("Welcome back! What would you like to do?"))
        return
    if not payload:
        ctx.send(f"{greeting_text(ctx)}\n\n{stored_text(ctx)}")
    ctx.send(
        ctx._("Who are you?"),
        rows(
            [
                menu_button(ctx._("🏢 I represent a company"), "company"),
                menu_button(ctx._("🧑 I am looking for a workshop placement"), "jobseeker"),
                menu_button(ctx._("👀 Just looking around"), "visitor"),
            ]
        ),
    )


def greeting_text(ctx: Context) -> str:
    operator = esc(ctx.kb.operator.name.get(ctx.lang))
    hello = ctx._(
        "👋 Hi! I am <b>kierto-bot</b>. I tell you about the KIERTO project (Kiertotaloudesta "
        "kasvua, growth from the circular economy, 2021–2023) and its freely usable results, "
        "such as the KIERTO-kartoitus, the circular economy self-assessment. The bot is run by "
        "{operator}.",
        operator=operator,
    )
    if ctx.kb.staff_answer:
        return (
            hello
            + " "
            + ctx._("I am a bot, not a person, but I can pass your question to a person.")
        )
    return hello + " " + ctx._("I am a bot, not a person.")


def stored_text(ctx: Context) -> str:
    if ctx.kb.staff_answer:
        return ctx._(
            "🔒 I store your Telegram user id, your language and the answers you give me, so "
            "you can continue where you left off and, only if you ask, the staff of {operator} can "
            "contact you. /privacy tells more; /forget erases it all.",
            operator=esc(ctx.kb.operator.name.get(ctx.lang)),
        )
    return ctx._(
        "🔒 I store your Telegram user id, your language and the answers you give me, so you "
        "can continue where you left off. /privacy tells more; /forget erases it all."
    )


@router.command("menu")
async def menu(ctx: Context, args: str) -> None:
    await show_menu(ctx)


@router.button(MenuPayload)
async def menu_pressed(ctx: Context, payload: MenuPayload) -> None:
    ctx.toast()
    value = payload.entry
    if value in ROLES:
        ctx.user.role = value
    if value in ("company", "kartoitus"):
        await ctx.begin("kartoitus")
    elif value in ("jobseeker", "tyopaja"):
        await ctx.begin("placement")
    elif value == "visitor":
        await show_menu(
            ctx,
            ctx._(
                "Welcome! The KIERTO project (2021–2023) helped companies grow through the "
                "circular economy and young job seekers learn by doing in its partners' "
                "workshops. Its results are freely usable. You can ask me anything about them: "
                "just type your question."
            ),
        )
    elif value == "ask":
        ctx.send(
            ctx._(
                "Type your question in your own words, for example: "
                "<i>What is a workshop placement?</i>"
            )
        )
    elif value == "human":
        await ctx.run_command("human")
    elif value == "settings":
        await ctx.run_command("settings")
    elif value == "resume":
        await ctx.show_current()
    elif value == "menu":
        await show_menu(ctx)
