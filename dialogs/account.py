"""The commands that work at any time, in any flow: /cancel, /settings (language,
invitations), /privacy, /mydata, /forget and /help.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from dialogs.actions import Btn, Edit, Keyboard
from dialogs.haastepaja.rsvp import release_seats
from dialogs.notice import privacy_notice
from dialogs.payload import Payload
from dialogs.router import Context, Router
from dialogs.start import show_menu
from dialogs.store.models import utcnow
from dialogs.ui import esc
from locales.i18n import LANGS, LANGUAGE_NAMES, N_

router = Router("account")

EXPIRES_MINUTES = 60  # an erase confirmation older than this asks again


@router.command("cancel", help=N_("stop what you are doing (answers are kept)"))
async def cancel(ctx: Context, args: str) -> None:
    if not await ctx.cancel_flow():
        await show_menu(ctx, ctx._("There is nothing to cancel right now."))
        return
    await show_menu(
        ctx,
        ctx._(
            "Stopped. Everything you answered is kept, and you can continue later from the menu."
        ),
    )


@dataclass(frozen=True)
class SettingsPayload(Payload, prefix="lang"):
    choice: Literal["fi", "en", "sv", "inv"]  # a language, or invitations on/off


def settings_keyboard(ctx: Context) -> Keyboard:
    langs = [
        Btn(
            ("✓ " if ctx.lang == lang else "") + LANGUAGE_NAMES[lang],
            SettingsPayload(lang).pack(),  # type: ignore[arg-type]
        )
        for lang in LANGS
    ]
    invite = (
        ctx._("🔔 Haastepaja invitations: on")
        if ctx.user.invitations
        else ctx._("🔕 Haastepaja invitations: off")
    )
    return (tuple(langs), (Btn(invite, SettingsPayload("inv").pack()),))


def settings_text(ctx: Context) -> str:
    return ctx._(
        "⚙️ <b>Settings</b>\nLanguage: choose below.\nHaastepaja invitations: if you turn them "
        "on, the programme may send you invitations to challenge workshops. You can turn "
        "them off here at any time."
    )


@router.command("settings", "language", "kieli", help=N_("language and invitations"))
async def settings(ctx: Context, args: str) -> None:
    ctx.send(settings_text(ctx), settings_keyboard(ctx))


@router.button(SettingsPayload)
async def settings_button(ctx: Context, payload: SettingsPayload) -> None:
    value = payload.choice
    if value in LANGS:
        ctx.user.locale = value
        ctx.user.locale_chosen = True
        ctx.t = ctx.translator(value)
        ctx.toast(ctx._("Language: English"))
    else:
        ctx.user.invitations = not ctx.user.invitations
        ctx.toast(ctx._("Invitations on") if ctx.user.invitations else ctx._("Invitations off"))
    ctx.edit(ctx.message_id, settings_text(ctx), settings_keyboard(ctx))


# ---------------------------------------------------------------------- privacy


@router.command("privacy", "tietosuoja", help=N_("what I store and why"))
async def privacy(ctx: Context, args: str) -> None:
    """The privacy notice, from the operator profile (controller, purposes, legal basis,
    retention, recipients, rights)."""
    ctx.send(privacy_notice(ctx.t, ctx.kb))


@router.command("mydata", "omattiedot", help=N_("see everything I store about you"))
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
        "tickets": [
            {
                **t.model_dump(),
                "conversation": [
                    {"author": m.author, "text": m.text, "at": m.at}
                    for m in await repo.ticket_messages.of(t.id)
                ],
            }
            for t in await repo.tickets.of_user(uid)
        ],
        "contact_requests": [c.model_dump() for c in await repo.contacts.of_user(uid)],
        "unanswered_questions": [m.model_dump() for m in await repo.misses.of_user(uid)],
        "haastepaja_answers": [r.model_dump() for r in await repo.rsvps.of_user(uid)],
        "haastepaja_attendee_details": [d.model_dump() for d in await repo.attendees.of_user(uid)],
    }


@dataclass(frozen=True)
class ForgetPayload(Payload, prefix="forget"):
    answer: Literal["yes", "no"]
    minute: int = 0  # when the confirmation was asked (minutes since the epoch)

    def valid(self) -> bool:
        return 0 <= self.minute <= _minute()  # never from the future


@router.command("forget", "unohda", help=N_("erase everything I store about you"))
async def forget(ctx: Context, args: str) -> None:
    ctx.send(
        ctx._(
            "This erases everything I store about you: answers, company details, "
            "interests, questions and settings. It cannot be undone. Erase it all?"
        ),
        (
            (
                Btn(ctx._("🗑 Yes, erase everything"), ForgetPayload("yes", _minute()).pack()),
                Btn(ctx._("No, keep it"), ForgetPayload("no").pack()),
            ),
        ),
    )


def _minute() -> int:
    """Minutes since the epoch: how old a /forget confirmation is."""
    return int(utcnow().timestamp() // 60)


@router.button(ForgetPayload)
async def forget_button(ctx: Context, payload: ForgetPayload) -> None:
    message_id = ctx.message_id
    confirmed = payload.answer
    if confirmed == "yes" and _minute() - payload.minute > EXPIRES_MINUTES:
        # a weeks-old confirmation must not erase what was saved since: ask again
        ctx.toast(
            ctx._(
                "That confirmation has expired. Send /forget again if you still want "
                "to erase your data."
            ),
            alert=True,
        )
        return
    if confirmed == "yes":
        await release_seats(ctx)  # a held haastepaja seat goes to the waitlist first
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
    else:
        ctx.toast()
        ctx.edit(message_id, ctx._("Nothing was erased."))


@router.command("help", help=N_("what I can do"))
async def help_(ctx: Context, args: str) -> None:
    commands = ctx.command_help()
    lines = [ctx._("Here is what I can do:")]
    lines += [f"/{c.name} — {ctx._(c.help)}" for c in commands if c.role is None]
    if ctx.has_role("staff") or ctx.has_role("coordinator"):
        lines += ["", ctx._("For programme staff:")]
        lines += [f"/{c.name} — {ctx._(c.help)}" for c in commands if c.role is not None]
    lines += ["", ctx._("You can also simply type a question.")]
    ctx.send("\n".join(lines))
