"""First contact and the always-available commands.

/start greets, says plainly that this is a bot and what it stores, and asks who you are;
/help, /cancel, /settings (language, invitations), /privacy, /mydata and /forget work at
any time, in any flow.
"""

from __future__ import annotations

import json

from dialogs.actions import Btn, Edit, Keyboard
from dialogs.router import Context, Router
from dialogs.store.models import utcnow
from dialogs.ui import esc, rows
from locales.i18n import LANGS, LANGUAGE_NAMES, N_

router = Router("start")

ROLES = ("company", "jobseeker", "visitor")


def menu_keyboard(ctx: Context) -> Keyboard:
    buttons = [
        Btn(ctx._("🏢 KIERTO-kartoitus for companies"), "m:kartoitus"),
        Btn(ctx._("🧰 Find a workshop placement"), "m:tyopaja"),
        Btn(ctx._("❓ Ask a question"), "m:ask"),
        Btn(ctx._("🙋 Talk to a person"), "m:human"),
        Btn(ctx._("⚙️ Settings"), "m:settings"),
    ]
    flow = ctx.engine.flow_by_name.get(ctx.state.flow or "")
    if flow is not None:
        buttons.insert(0, Btn(ctx._("▶️ Continue where I left off"), "m:resume"))
    return rows(buttons)


async def show_menu(ctx: Context, text: str | None = None) -> None:
    ctx.send(text or ctx._("What would you like to do?"), menu_keyboard(ctx))


@router.command("start")
async def start(ctx: Context, args: str) -> None:
    """Greet; a deep-link payload (`/start tyopaja`) goes straight to what it names (after
    the first-contact notice: everyone hears once that this is a bot and what it stores)."""
    payload = args.strip()
    if payload:
        if ctx.first_contact:
            ctx.send(f"{greeting_text(ctx)}\n\n{stored_text(ctx)}")
        for resolver in ctx.engine.deeplinks:
            if await resolver(ctx, payload):
                return
    greeting, stored = greeting_text(ctx), stored_text(ctx)
    if ctx.state.flow:
        welcome = ctx._("Welcome back! What would you like to do?")
        await show_menu(ctx, f"{greeting}\n\n{welcome}")
        return
    if not (payload and ctx.first_contact):
        ctx.send(f"{greeting}\n\n{stored}")
    ctx.send(
        ctx._("Who are you?"),
        rows(
            [
                Btn(ctx._("🏢 I represent a company"), "m:company"),
                Btn(ctx._("🧑 I am looking for a workshop placement"), "m:jobseeker"),
                Btn(ctx._("👀 Just looking around"), "m:visitor"),
            ]
        ),
    )


def greeting_text(ctx: Context) -> str:
    return ctx._(
        "👋 Hi! I am <b>kierto-bot</b>, the assistant of the City of Tampere's KIERTO "
        "programme (Kiertotaloudesta kasvua, growth from the circular economy). "
        "I am a bot, not a person, but I can pass your question to a person."
    )


def stored_text(ctx: Context) -> str:
    return ctx._(
        "🔒 I store your Telegram user id, your language and the answers you give me, so you "
        "can continue where you left off and, only if you ask, someone from the programme can "
        "contact you. /privacy tells more; /forget erases it all."
    )


@router.command("menu")
async def menu(ctx: Context, args: str) -> None:
    await show_menu(ctx)


@router.button("m")
async def menu_button(ctx: Context, value: str) -> None:
    ctx.toast()
    flows = ctx.engine.flow_by_name
    if value in ROLES:
        ctx.user.role = value
    if value in ("company", "kartoitus"):
        await flows["kartoitus"].begin(ctx)
    elif value in ("jobseeker", "tyopaja"):
        await flows["placement"].begin(ctx)
    elif value == "visitor":
        await show_menu(
            ctx,
            ctx._(
                "Welcome! KIERTO helps companies grow through the circular economy and young job "
                "seekers find work-based learning at the programme's workshops. You can ask me "
                "anything about them: just type your question."
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
        await ctx.engine.run_command(ctx, "human", "")
    elif value == "settings":
        await settings(ctx, "")
    elif value == "resume":
        await ctx.engine.show_current(ctx)
    elif value == "menu":
        await show_menu(ctx)
    else:
        ctx.invalid_button()


HELP_COMMANDS = (
    ("start", N_("start again and choose what to do")),
    ("kartoitus", N_("KIERTO-kartoitus: how circular is my company")),
    ("tyopaja", N_("find a workshop placement")),
    ("ask", N_("ask a question, e.g. /ask what is a haastepaja")),
    ("human", N_("talk to a person")),
    ("cancel", N_("stop what you are doing (answers are kept)")),
    ("settings", N_("language and invitations")),
    ("privacy", N_("what I store and why")),
    ("mydata", N_("see everything I store about you")),
    ("forget", N_("erase everything I store about you")),
    ("help", N_("what I can do")),
)
STAFF_COMMANDS = (
    ("tickets", N_("open questions handed to a person")),
    ("reply", N_("answer a ticket: /reply 12 your answer")),
    ("leads", N_("new contact requests and placement interests")),
    ("stats", N_("kartoitus statistics")),
    ("events", N_("haastepaja events: counts, attendee lists, check-in QR")),
    ("newevent", N_("create a haastepaja and invite people")),
)


@router.command("help")
async def help_(ctx: Context, args: str) -> None:
    lines = [ctx._("Here is what I can do:")]
    lines += [f"/{name} — {ctx._(text)}" for name, text in HELP_COMMANDS]
    if ctx.has_role("staff") or ctx.has_role("coordinator"):
        lines += ["", ctx._("For programme staff:")]
        lines += [f"/{name} — {ctx._(text)}" for name, text in STAFF_COMMANDS]
    lines += ["", ctx._("You can also simply type a question.")]
    ctx.send("\n".join(lines))


@router.command("cancel")
async def cancel(ctx: Context, args: str) -> None:
    flow = ctx.engine.flow_by_name.get(ctx.state.flow or "")
    if flow is None:
        await show_menu(ctx, ctx._("There is nothing to cancel right now."))
        return
    await flow.on_cancel(ctx)
    ctx.go(None)
    await show_menu(
        ctx,
        ctx._(
            "Stopped. Everything you answered is kept, and you can continue later from the menu."
        ),
    )


# ---------------------------------------------------------------------- settings


def settings_keyboard(ctx: Context) -> Keyboard:
    langs = [
        Btn(("✓ " if ctx.lang == lang else "") + LANGUAGE_NAMES[lang], f"lang:{lang}")
        for lang in LANGS
    ]
    invite = (
        ctx._("🔔 Haastepaja invitations: on")
        if ctx.user.invitations
        else ctx._("🔕 Haastepaja invitations: off")
    )
    return (tuple(langs), (Btn(invite, "lang:inv"),))


def settings_text(ctx: Context) -> str:
    return ctx._(
        "⚙️ <b>Settings</b>\nLanguage: choose below.\nHaastepaja invitations: if you turn them "
        "on, the programme may send you invitations to challenge workshops. You can turn "
        "them off here at any time."
    )


@router.command("settings", "language", "kieli")
async def settings(ctx: Context, args: str) -> None:
    ctx.send(settings_text(ctx), settings_keyboard(ctx))


@router.button("lang")
async def settings_button(ctx: Context, value: str) -> None:
    if value in LANGS:
        ctx.user.locale = value
        ctx.user.locale_chosen = True
        ctx.t = ctx.engine.i18n(value)
        ctx.toast(ctx._("Language: English"))
    elif value == "inv":
        ctx.user.invitations = not ctx.user.invitations
        ctx.toast(ctx._("Invitations on") if ctx.user.invitations else ctx._("Invitations off"))
    else:
        ctx.invalid_button()
        return
    ctx.edit(ctx.message_id, settings_text(ctx), settings_keyboard(ctx))


# ---------------------------------------------------------------------- privacy


@router.command("privacy", "tietosuoja")
async def privacy(ctx: Context, args: str) -> None:
    ctx.send(
        ctx._(
            "🔒 <b>Privacy</b>\n\n"
            "<b>Who:</b> kierto-bot is the assistant of the City of Tampere's KIERTO programme. "
            "It is a bot; people from the programme see only what is described below.\n\n"
            "<b>What I store:</b> your Telegram user id (not your name or phone number), your "
            "language, where you are in a conversation, and what you tell me on purpose: "
            "kartoitus answers and your company's name, the placements you say you are interested "
            "in, questions you ask that I cannot answer, and questions you hand to a person.\n\n"
            "<b>Why:</b> so you can continue where you left off, get your results, and be "
            "contacted when you ask for it. Kartoitus answers are also used, without names, "
            "for the programme's statistics.\n\n"
            "<b>Who sees it:</b> the programme's coordinators see company results and the "
            "requests you send them. Nothing is sold or given to anyone else.\n\n"
            "<b>How long:</b> until you erase it, or at the latest when the programme no longer "
            "needs it.\n\n"
            "<b>Your rights:</b> /mydata shows everything stored about you; /forget erases it "
            "at once, including from invitation lists."
        )
    )


@router.command("mydata", "omattiedot")
async def mydata(ctx: Context, args: str) -> None:
    repo, user = ctx.repo, ctx.user
    companies = await repo.companies.of_user(user.id)
    assessments = await repo.assessments.of_user(user.id)
    interests = await repo.interests.of_user(user.id)
    tickets = await repo.tickets.of_user(user.id)
    lines = [
        ctx._("📄 <b>What I store about you</b>"),
        ctx._("Telegram user id: {id}", id=user.id),
        ctx._("Language: {lang}", lang=LANGUAGE_NAMES.get(user.locale, user.locale)),
        ctx._("First contact: {date}", date=ctx.t.date(user.created_at)),
        ctx._(
            "Haastepaja invitations: {state}",
            state=ctx._("on") if user.invitations else ctx._("off"),
        ),
    ]
    for company in companies:
        lines.append(ctx._("Company: {name}", name=esc(company.name)))
    if assessments:
        lines.append(
            ctx.n_(
                "{n} KIERTO-kartoitus assessment",
                "{n} KIERTO-kartoitus assessments",
                len(assessments),
            )
        )
    if interests:
        lines.append(ctx.n_("{n} placement interest", "{n} placement interests", len(interests)))
    if tickets:
        lines.append(
            ctx.n_(
                "{n} question handed to a person", "{n} questions handed to a person", len(tickets)
            )
        )
    rsvps = await repo.rsvps.of_user(user.id)
    if rsvps:
        lines.append(
            ctx.n_(
                "{n} answer to a haastepaja invitation",
                "{n} answers to haastepaja invitations",
                len(rsvps),
            )
        )
    lines.append("")
    lines.append(ctx._("The attached file has all of it. /forget erases everything."))
    ctx.send("\n".join(lines))
    dump = await export_user(ctx)
    ctx.send_file(
        "document",
        json.dumps(dump, ensure_ascii=False, indent=2, default=str).encode(),
        "kierto-bot-my-data.json",
        ctx._("Everything kierto-bot stores about you"),
    )
    repo.audit.log("mydata")


async def export_user(ctx: Context) -> dict[str, object]:
    """Every stored row that belongs to the user, as plain data."""
    repo, uid = ctx.repo, ctx.user.id
    assessments = await repo.assessments.of_user(uid)
    answers = {a.id: await repo.answers.of(a.id) for a in assessments if a.id is not None}
    return {
        "user": ctx.user.model_dump(),
        "dialog_state": {"flow": ctx.state.flow, "step": ctx.state.step, "data": ctx.state.data},
        "companies": [c.model_dump() for c in await repo.companies.of_user(uid)],
        "assessments": [
            {
                **a.model_dump(),
                "answers": {
                    q: {"value": x.value, "text": x.text} for q, x in answers.get(a.id, {}).items()
                },
            }
            for a in assessments
        ],
        "placement_interests": [i.model_dump() for i in await repo.interests.of_user(uid)],
        "placement_votes": await repo.votes.of_user(uid),
        "tickets": [t.model_dump() for t in await repo.tickets.of_user(uid)],
        "contact_requests": [c.model_dump() for c in await repo.contacts.of_user(uid)],
        "unanswered_questions": [m.model_dump() for m in await repo.misses.of_user(uid)],
        "haastepaja_answers": [r.model_dump() for r in await repo.rsvps.of_user(uid)],
        "haastepaja_attendee_details": [d.model_dump() for d in await repo.attendees.of_user(uid)],
    }


@router.command("forget", "unohda")
async def forget(ctx: Context, args: str) -> None:
    ctx.send(
        ctx._(
            "This erases everything I store about you: answers, company details, "
            "interests, questions and settings. It cannot be undone. Erase it all?"
        ),
        (
            (
                Btn(ctx._("🗑 Yes, erase everything"), f"forget:yes.{_minute()}"),
                Btn(ctx._("No, keep it"), "forget:no"),
            ),
        ),
    )


def _minute() -> int:
    """Minutes since the epoch: how old a /forget confirmation is."""
    return int(utcnow().timestamp() // 60)


@router.button("forget")
async def forget_button(ctx: Context, value: str) -> None:
    message_id = ctx.message_id
    confirmed, _, minute = value.partition(".")
    age = _minute() - int(minute) if minute.isdigit() and len(minute) < 12 else None
    if confirmed == "yes" and (age is None or not -1 <= age <= 60):
        # a weeks-old confirmation must not erase what was saved since: ask again (a
        # forged future time too; -1 allows for clocks of two processes a little apart)
        ctx.toast(
            ctx._(
                "That confirmation has expired. Send /forget again if you still want "
                "to erase your data."
            ),
            alert=True,
        )
        return
    if confirmed == "yes":
        staff_chat = ctx.services.staff_chat_id
        posts = await ctx.repo.outbox.posts_about(ctx.user.id, staff_chat) if staff_chat else []
        await ctx.repo.forget(ctx.user.id)
        for post in posts:  # their tickets in the staff chat: the text goes too
            ctx.actions.append(
                Edit(staff_chat, post, ctx.staff_t._("🗑 Removed at the person's request."))
            )
        ctx.repo.session.expunge_all()  # the rows are gone; do not write them back
        ctx.repo.audit.log("forget")
        ctx.toast()
        ctx.edit(
            message_id,
            ctx._(
                "🗑 Done: everything I stored about you has been erased. "
                "If you write to me again, I start from scratch."
            ),
        )
    elif value == "no":
        ctx.toast()
        ctx.edit(message_id, ctx._("Nothing was erased."))
    else:
        ctx.invalid_button()
