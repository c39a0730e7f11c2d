"""A person when the bot is not enough: tickets, the staff chat, and replies relayed back.

A ticket holds the question, the user's language and where they were (the topic), and no
more personal data than that. It is posted to the staff chat as `Ticket #12`; a staff
member answers by replying to that message (or `/reply 12 text`), and the bot passes the
answer to the user. Without a staff chat, tickets wait in /tickets.

Whether anyone answers is the operator's to say (operator.yaml, `staff_answer`): while it is
false, asking for a person shows how to reach the operator's people instead of opening a
ticket nobody reads, and nothing promises a reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs import quickviews, staffdesk
from dialogs.actions import Btn
from dialogs.events import ReplyTo
from dialogs.flow import END, Flow, Step
from dialogs.notice import who_answers
from dialogs.router import Context, Router
from dialogs.start import menu_button
from dialogs.store.models import Ticket, utcnow
from dialogs.ui import esc, rows
from locales.i18n import LANGUAGE_NAMES, N_

router = Router("handoff")


def steps() -> tuple[Step, ...]:
    return (
        # type the question
        Step("ask", show_ask, {"no": never_mind}, text=question_typed, goes=(END,)),
        # confirm a question already typed (to /human, or one the FAQ could not answer)
        Step("cf", show_confirm, {"yes": confirmed, "no": never_mind}, goes=(END,)),
    )


@dataclass(frozen=True)
class HandoffData:
    question: str = ""  # the question to confirm (step cf)
    topic: str = "human"  # where it came from: human | faq


QUESTION_MAX = 2000
# The first line of a ticket post is "🙋 Ticket #12 · language: …" (in the staff's language);
# only a reply to a message whose first line names one ticket answers it, never a reply to
# a listing of several (whose first line is a count).
TICKET_RE = re.compile(r"\A[^\n#]*#(\d{1,9})\b")


async def open_ticket(ctx: Context, topic: str, question: str) -> Ticket:
    """Store a ticket and post it to the staff chat, in the staff's language."""
    ticket = await ctx.repo.tickets.add(ctx.user.id, ctx.lang, topic, question)
    staff = ctx.staff_t
    text = "\n".join(
        [
            staff._(
                "🙋 <b>Ticket #{id}</b> · language: {lang} · source: {topic}",
                id=ticket.id,
                lang=LANGUAGE_NAMES.get(ctx.lang, ctx.lang),
                topic=esc(topic),
            ),
            "",
            esc(question),
            "",
            staff._(
                "Reply to this message to answer: the bot passes your reply to the person. "
                "Or: /reply {id} your answer",
                id=ticket.id,
            ),
        ]
    )
    ctx.to_staff(text)
    return ticket


class Handoff(Flow[HandoffData]):
    name = "handoff"
    prefix = "h"
    Data = HandoffData
    entries = ("ask", "cf")

    async def begin(self, ctx: Context, arg: str = "") -> None:
        if not ctx.kb.staff_answer:
            no_staff(ctx)
            return
        question = arg.strip()
        if question:
            await self.ask_about(ctx, question, "human")
        else:
            data = HandoffData()
            ctx.go(self.name, "ask", data)
            await show_ask(ctx, data)

    async def ask_about(self, ctx: Context, question: str, topic: str) -> None:
        """Offer to send a question the bot could not answer."""
        if not ctx.kb.staff_answer:
            no_staff(ctx)
            return
        data = HandoffData(question=question[:QUESTION_MAX], topic=topic)
        ctx.go(self.name, "cf", data)
        await show_confirm(ctx, data)


def no_staff(ctx: Context) -> None:
    """Nobody answers through the bot: say so, and how to reach the operator's people."""
    ctx.go(None)
    ctx.send(
        f"🙋 {who_answers(ctx.t, ctx.kb)}",
        rows([menu_button(ctx._("🏠 Menu"), "menu")]),
    )


async def show_ask(ctx: Context, data: HandoffData) -> None:
    ctx.send(
        ctx._(
            "🙋 Write your question and I will pass it to the staff of {operator}. {when} "
            "The answer comes here, in this chat. Please do not include health details or "
            "other sensitive information.",
            operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            when=esc(ctx.kb.operator.staff_text.get(ctx.lang)),
        ),
        rows([Btn(ctx._("Never mind"), handoff.button("ask", "no"))]),
    )


async def show_confirm(ctx: Context, data: HandoffData) -> None:
    ctx.send(
        ctx._(
            "Send this question to the staff of {operator}?\n\n<i>{q}</i>",
            operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            q=esc(data.question),
        ),
        rows(
            [
                Btn(ctx._("✅ Yes, send it"), handoff.button("cf", "yes")),
                Btn(ctx._("No"), handoff.button("cf", "no")),
            ],
            2,
        ),
    )


async def question_typed(ctx: Context, data: HandoffData, text: str) -> bool:
    text = text.strip()
    if len(text) > QUESTION_MAX:
        ctx.send(
            ctx.n_(
                "That is a bit long for one question: please keep it under {n} character.",
                "That is a bit long for one question: please keep it under {n} characters.",
                QUESTION_MAX,
            )
        )
        return True
    await send(ctx, text, data.topic)
    return True


async def confirmed(ctx: Context, data: HandoffData, value: str) -> None:
    await send(ctx, data.question, data.topic)


async def never_mind(ctx: Context, data: HandoffData, value: str) -> None:
    ctx.go(None)
    ctx.edit(ctx.message_id, ctx._("OK, I did not send anything."))


async def send(ctx: Context, question: str, topic: str) -> None:
    ticket = await open_ticket(ctx, topic, question)
    ctx.go(None)
    ctx.send(
        ctx._(
            "✅ Your question is now with the staff of {operator} (ticket #{id}). {when} "
            "The answer comes here, in this chat.",
            id=ticket.id,
            operator=esc(ctx.kb.operator.name.get(ctx.lang)),
            when=esc(ctx.kb.operator.staff_text.get(ctx.lang)),
        )
    )


handoff = router.flow(Handoff(steps()))


@router.command("human", "ihminen", "person", "agent", help=N_("talk to a person"))
async def human(ctx: Context, args: str) -> None:
    await handoff.begin(ctx, args)


# ---------------------------------------------------------------------- staff side


async def relay(ctx: Context, ticket_id: int, answer: str) -> None:
    """Pass a staff member's answer to the person who opened the ticket."""
    staff = ctx.staff_t
    ticket = await ctx.repo.tickets.get(ticket_id)
    if ticket is None:
        ctx.send(
            staff._(
                "There is no ticket #{id} (if it existed, the person has erased their data).",
                id=ticket_id,
            )
        )
        return
    answer = answer.strip()
    if not answer:
        ctx.send(
            staff._(
                "Write the answer after the ticket number: /reply {id} your answer", id=ticket_id
            )
        )
        return
    user = await ctx.repo.users.get(ticket.user_id)
    if user is None:
        ctx.send(
            staff._(
                "The person behind ticket #{id} has erased their data; the answer "
                "cannot be delivered.",
                id=ticket_id,
            )
        )
        return
    ctx.to_chat(
        ticket.user_id,
        staffdesk.answer_text(
            ctx.translator(ticket.locale), ticket, answer, ctx.kb.operator.name.get(ticket.locale)
        ),
    )
    assert ticket.id is not None
    ctx.repo.ticket_messages.add(ticket.id, "staff", answer, ctx.user.id)  # the conversation
    ticket.status = "answered"
    ticket.answered_at = utcnow()
    kind, _, key = ticket.topic.partition(":")  # a lead is answered through its ticket
    if kind == "contact" and key.isdigit():
        await ctx.repo.contacts.mark(int(key), "contacted")
    elif kind == "placement":
        await ctx.repo.interests.mark(ticket.user_id, key, "contacted")
    ctx.send(staff._("✓ Sent to the person behind ticket #{id}.", id=ticket.id))


@router.hook("staff_reply")
async def staff_reply(ctx: Context, text: str, reply_to: ReplyTo) -> None:
    match = TICKET_RE.search(reply_to.text)
    if match is not None:
        await relay(ctx, int(match.group(1)), text)


@router.command("tickets", role="staff", help=N_("open questions handed to a person"))
async def tickets_command(ctx: Context, args: str) -> None:
    await quickviews.tickets(ctx, args)  # whole tickets; `/tickets 12` opens one


@router.command("ticket", "tiketti", role="staff", help=N_("one ticket's conversation: /ticket 12"))
async def ticket_command(ctx: Context, args: str) -> None:
    await quickviews.ticket(ctx, args)


@router.command("reply", "vastaa", role="staff", help=N_("answer a ticket: /reply 12 your answer"))
async def reply_command(ctx: Context, args: str) -> None:
    number, _, answer = args.strip().partition(" ")
    match = re.fullmatch(r"#?(\d{1,9})", number, re.ASCII)  # ASCII digits, a plausible id
    if match is None:
        staff = ctx.staff_t
        ctx.send(staff._("Usage: /reply 12 your answer"))
        return
    await relay(ctx, int(match.group(1)), answer)
