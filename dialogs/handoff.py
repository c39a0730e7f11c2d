"""A person when the bot is not enough: tickets, the staff chat, and replies relayed back.

A ticket holds the question, the user's language and where they were (the topic), and no
more personal data than that. It is posted to the staff chat as `Ticket #12`; a staff
member answers by replying to that message (or `/reply 12 text`), and the bot passes the
answer to the user. Without a staff chat, tickets wait in /tickets.
"""

from __future__ import annotations

import re

from dialogs.actions import Btn
from dialogs.events import ReplyTo
from dialogs.router import Context, Flow, Router
from dialogs.store.models import Ticket, utcnow
from dialogs.ui import esc, rows
from locales.i18n import LANGUAGE_NAMES

router = Router("handoff")

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


class Handoff(Flow):
    """Ask for a person: type the question (`ask`), or confirm one already typed (`cf`)."""

    name = "handoff"
    prefix = "h"

    def node(self, ctx: Context) -> str:
        return "cf" if ctx.state.step == "confirm" else ctx.state.step

    async def begin(self, ctx: Context, arg: str = "") -> None:
        question = arg.strip()
        if question:
            ctx.go(self.name, "confirm", q=question[:QUESTION_MAX], topic="human")
        else:
            ctx.go(self.name, "ask", topic="human")
        await self.show(ctx)

    async def ask_about(self, ctx: Context, question: str, topic: str) -> None:
        """Offer to send a question the bot could not answer."""
        ctx.go(self.name, "confirm", q=question[:QUESTION_MAX], topic=topic)
        await self.show(ctx)

    async def show(self, ctx: Context) -> None:
        if ctx.state.step == "ask":
            ctx.send(
                ctx._(
                    "🙋 Write your question and I will pass it to a person from the "
                    "KIERTO programme. They answer you here, in this chat. Please do not "
                    "include health details or other sensitive information."
                ),
                rows([Btn(ctx._("Never mind"), self.payload("ask", "no"))]),
            )
        else:
            ctx.send(
                ctx._(
                    "Send this question to a person from the programme?\n\n<i>{q}</i>",
                    q=esc(ctx.data.get("q", "")),
                ),
                rows(
                    [
                        Btn(ctx._("✅ Yes, send it"), self.payload("cf", "yes")),
                        Btn(ctx._("No"), self.payload("cf", "no")),
                    ],
                    2,
                ),
            )

    async def on_text(self, ctx: Context, text: str) -> bool:
        if ctx.state.step != "ask":
            return False
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
        await self._send(ctx, text, ctx.data.get("topic", "human"))
        return True

    async def on_button(self, ctx: Context, node: str, value: str) -> None:
        ctx.toast()
        if value == "yes" and node == "cf":
            await self._send(ctx, ctx.data.get("q", ""), ctx.data.get("topic", "human"))
        else:
            ctx.go(None)
            ctx.edit(ctx.message_id, ctx._("OK, I did not send anything."))

    async def _send(self, ctx: Context, question: str, topic: str) -> None:
        ticket = await open_ticket(ctx, topic, question)
        ctx.go(None)
        ctx.send(
            ctx._(
                "✅ Your question is now with a person from the programme (ticket #{id}). "
                "The answer comes here, in this chat.",
                id=ticket.id,
            )
        )


handoff = router.flow(Handoff())


@router.command("human", "ihminen", "person", "agent")
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
    their = ctx.engine.i18n(ticket.locale)
    ctx.to_chat(
        ticket.user_id,
        "\n".join(
            [
                their._(
                    "💬 <b>Answer from the KIERTO team</b> to your question #{id}:", id=ticket.id
                ),
                "",
                esc(answer),
                "",
                their._("To ask more, use /human."),
            ]
        ),
    )
    ticket.status = "answered"
    ticket.answered_at = utcnow()
    kind, _, key = ticket.topic.partition(":")  # a lead is answered through its ticket
    if kind == "contact" and key.isdigit():
        await ctx.repo.contacts.mark(int(key), "contacted")
    elif kind == "placement":
        await ctx.repo.interests.mark(ticket.user_id, key, "contacted")
    ctx.send(staff._("✓ Sent to the person behind ticket #{id}.", id=ticket.id))


async def staff_reply(ctx: Context, text: str, reply_to: ReplyTo) -> None:
    match = TICKET_RE.search(reply_to.text)
    if match is not None:
        await relay(ctx, int(match.group(1)), text)


router.staff_reply = staff_reply


@router.command("reply", "vastaa", role="staff")
async def reply_command(ctx: Context, args: str) -> None:
    number, _, answer = args.strip().partition(" ")
    if not number.lstrip("#").isdigit():
        staff = ctx.staff_t
        ctx.send(staff._("Usage: /reply 12 your answer"))
        return
    await relay(ctx, int(number.lstrip("#")), answer)


@router.command("tickets", role="staff")
async def tickets_command(ctx: Context, args: str) -> None:
    open_tickets = await ctx.repo.tickets.open()
    if not open_tickets:
        ctx.send(ctx._("No open tickets. 🎉"))
        return
    lines = [ctx.n_("{n} open ticket:", "{n} open tickets:", len(open_tickets))]
    for ticket in open_tickets[-30:]:
        question = ticket.question if len(ticket.question) <= 120 else ticket.question[:119] + "…"
        lines.append(
            f"#{ticket.id} · {ticket.locale} · {esc(ticket.topic)} · "
            f"{ctx.t.datetime(ticket.created_at)}\n{esc(question)}"
        )
    ctx.send("\n\n".join(lines))
