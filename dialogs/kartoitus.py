"""KIERTO-kartoitus: a company's self-assessment, question by question.

Steps (`state.step`; the payload node in brackets):

    resume  [res]   an unfinished assessment exists: continue or start over
    company [co]    pick one of my companies, or a new one
    name            type the company name (text)
    ytunnus [yt]    type the Y-tunnus, or skip (optional, check digit validated)
    q       [<qid>] one question; payloads <qid>:<option> | t.<option> | done | back | skip | pause
    sum     [sum]   summary: a theme to review, or finish
    sumt    [sumt]  one theme's answers: pick one to change

Every answer is written to the answers table the moment it is given, with the
questionnaire version; the position and unfinished checklist ticks live in the dialog state,
so a company that leaves (or whose bot restarts) continues at the same question.
"""

from __future__ import annotations

import re
from typing import Any

from dialogs import results
from dialogs.actions import Btn, Keyboard
from dialogs.router import Context, Flow, Router
from dialogs.scoring import sequence
from dialogs.store.models import Assessment
from dialogs.ui import auto_rows, bar, esc, join, rows
from knowledge.schema import Question

router = Router("kartoitus")

NAME_MAX = 200


def valid_business_id(raw: str) -> str | None:
    """A Finnish Y-tunnus in canonical form (1234567-8), or None if the check digit fails.

    The check digit: weights 7, 9, 10, 5, 8, 4, 2 over the seven digits; remainder 0 gives
    0, remainder 1 is never issued, otherwise 11 − remainder. Old six-digit ids are padded
    with a leading zero, as the register does.
    """
    text = "".join(raw.split()).replace("–", "-")
    if "-" not in text and len(text) == 8 and text.isascii() and text.isdigit():
        text = f"{text[:7]}-{text[7]}"
    if not re.fullmatch(r"\d{6,7}-\d", text, re.ASCII):
        return None
    body, _, check = text.partition("-")
    body = body.zfill(7)
    remainder = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    if remainder == 1:
        return None
    expected = 0 if remainder == 0 else 11 - remainder
    return f"{body}-{check}" if int(check) == expected else None


class Kartoitus(Flow):
    name = "kartoitus"
    prefix = "k"

    def node(self, ctx: Context) -> str:
        step = ctx.state.step
        if step == "q":
            return ctx.data["q"]
        return {"resume": "res", "company": "co", "ytunnus": "yt"}.get(step, step)

    # ------------------------------------------------------------------ entering

    async def begin(self, ctx: Context, arg: str = "") -> None:
        if ctx.state.flow == self.name:
            await self.show(ctx)
            return
        open_one = next(
            (
                a
                for a in reversed(await ctx.repo.assessments.of_user(ctx.user.id))
                if a.status == "open"
            ),
            None,
        )
        if open_one is not None:
            ctx.go(self.name, "resume", aid=open_one.id)
        else:
            await self._choose_company(ctx)
            return
        await self.show(ctx)

    async def _choose_company(self, ctx: Context) -> None:
        companies = await ctx.repo.companies.of_user(ctx.user.id)
        ctx.send(
            ctx._(
                "🏢 <b>KIERTO-kartoitus</b> shows how circular and sustainable your business is. "
                "About 40 quick questions in 8 themes, 10–15 minutes. You get a score per theme, "
                "your maturity level, a chart, your three best next steps and local services that "
                "help. Your answers are saved as you go: stop any time and continue later."
            )
        )
        if companies:
            ctx.go(self.name, "company")
        else:
            ctx.go(self.name, "name")
        await self.show(ctx)

    # ------------------------------------------------------------------ showing

    async def show(self, ctx: Context) -> None:
        step = ctx.state.step
        if step == "resume":
            assessment = await ctx.repo.assessments.get(ctx.data["aid"])
            company = await ctx.repo.companies.get(assessment.company_id) if assessment else None
            answered = len(await ctx.repo.answers.of(ctx.data["aid"]))
            ctx.send(
                ctx.n_(
                    "You have an unfinished kartoitus for {company} with {n} answer saved. "
                    "Continue where you left off, or start over?",
                    "You have an unfinished kartoitus for {company} with {n} answers saved. "
                    "Continue where you left off, or start over?",
                    answered,
                    company=esc(company.name if company else "?"),
                ),
                rows(
                    [
                        Btn(ctx._("▶️ Continue"), self.payload("res", "go")),
                        Btn(ctx._("🔄 Start over"), self.payload("res", "new")),
                    ],
                    2,
                ),
            )
        elif step == "company":
            companies = await ctx.repo.companies.of_user(ctx.user.id)
            buttons = [Btn(c.name[:40], self.payload("co", str(c.id))) for c in companies[-6:]]
            buttons.append(Btn(ctx._("➕ Another company"), self.payload("co", "new")))
            ctx.send(ctx._("Which company is this kartoitus for?"), rows(buttons))
        elif step == "name":
            ctx.send(ctx._("What is your company's name?"))
        elif step == "ytunnus":
            ctx.send(
                ctx._(
                    "Your company's Y-tunnus (business ID), e.g. 1234567-1? It is optional: "
                    "it only helps the programme recognise your company if you ask to be "
                    "contacted. Type it, or skip."
                ),
                rows([Btn(ctx._("Skip ➡️"), self.payload("yt", "skip"))]),
            )
        elif step == "q":
            await self._show_question(ctx, await self._answers(ctx))
        elif step == "sum":
            await self._show_summary(ctx, await self._answers(ctx))
        elif step == "sumt":
            await self._show_theme(ctx, await self._answers(ctx))

    async def _answers(self, ctx: Context) -> dict[str, Any]:
        """The answers so far; loaded once per event and passed along (then kept current)."""
        return await ctx.repo.answers.values(ctx.data["aid"])

    def _question_text(self, ctx: Context, qid: str, answers: dict[str, Any]) -> str:
        kb = ctx.kb
        question = kb.questions[qid]
        order = sequence(kb, answers)
        position = order.index(qid) + 1 if qid in order else len(order)
        theme = kb.theme_of.get(qid)
        header = theme.title.get(ctx.lang) if theme else ctx._("About your company")
        counter = ctx._("question {n} of {total}", n=position, total=len(order))
        lines = [
            f"<b>{esc(header)}</b> · {counter}",
            bar(position / len(order)),
            "",
            f"<b>{esc(question.text.get(ctx.lang))}</b>",
        ]
        if question.help:
            lines.append(f"<i>{esc(question.help.get(ctx.lang))}</i>")
        if question.type == "multi":
            lines.append(ctx._("Tick all that apply, then press Done."))
        elif question.type == "text":
            lines.append(
                ctx.n_(
                    "Write your answer (at most {n} character), or skip.",
                    "Write your answer (at most {n} characters), or skip.",
                    question.max_len,
                )
            )
        return "\n".join(lines)

    def _question_keyboard(
        self, ctx: Context, question: Question, current: Any, ticked: list[str] | None, first: bool
    ) -> Keyboard:
        qid = question.id
        options = ctx.kb.options[qid]
        if question.type == "multi":
            picked = set(ticked or [])
            choice = rows(
                [
                    Btn(
                        ("☑️ " if o.id in picked else "⬜ ") + o.label.get(ctx.lang),
                        self.payload(qid, f"t.{o.id}"),
                    )
                    for o in options
                ]
            )
            choice = join(choice, rows([Btn(ctx._("✅ Done"), self.payload(qid, "done"))]))
        else:
            choice = auto_rows(
                Btn(
                    ("✓ " if o.id == current else "") + o.label.get(ctx.lang),
                    self.payload(qid, o.id),
                )
                for o in options
            )
        nav = [] if first else [Btn(ctx._("⬅️ Back"), self.payload(qid, "back"))]
        nav += [
            Btn(ctx._("Skip ➡️"), self.payload(qid, "skip")),
            Btn(ctx._("⏸ Later"), self.payload(qid, "pause")),
        ]
        return join(choice, (tuple(nav),))

    async def _show_question(
        self, ctx: Context, answers: dict[str, Any], message_id: int | None = None
    ) -> None:
        """The current question; with `message_id`, in place of that message (a question
        answered by a button turns into the next one, so the chat stays short)."""
        qid = ctx.data["q"]
        question = ctx.kb.questions[qid]
        if question.type == "multi" and "sel" not in ctx.data:
            ctx.at("q", sel=list(answers.get(qid) or []))
        first = sequence(ctx.kb, answers)[0] == qid
        keyboard = self._question_keyboard(
            ctx, question, answers.get(qid), ctx.data.get("sel"), first
        )
        ctx.edit(message_id, self._question_text(ctx, qid, answers), keyboard)

    # ------------------------------------------------------------------ input

    async def on_text(self, ctx: Context, text: str) -> bool:
        step = ctx.state.step
        text = text.strip()
        if step == "name":
            if len(text) < 2 or len(text) > NAME_MAX or text.startswith("/"):
                ctx.send(
                    ctx.n_(
                        "Please type the company name (2 to {n} character).",
                        "Please type the company name (2 to {n} characters).",
                        NAME_MAX,
                    )
                )
                return True
            ctx.at("ytunnus", name=text)
            await self.show(ctx)
            return True
        if step == "ytunnus":
            business_id = valid_business_id(text)
            if business_id is None:
                ctx.send(
                    ctx._(
                        "That does not look like a valid Y-tunnus: it has seven digits, a hyphen "
                        "and a check digit, e.g. 1234567-1, and the check digit must match. "
                        "Please check it, or skip."
                    ),
                    rows([Btn(ctx._("Skip ➡️"), self.payload("yt", "skip"))]),
                )
                return True
            await self._new_company(ctx, business_id)
            return True
        if step == "q":
            question = ctx.kb.questions[ctx.data["q"]]
            if question.type != "text":
                return False
            if len(text) > question.max_len:
                ctx.send(
                    ctx.n_(
                        "Your answer is {n} characters long; the limit is {limit}. Nothing was "
                        "saved yet: please shorten it and send it again.",
                        "Your answer is {n} characters long; the limit is {limit}. Nothing was "
                        "saved yet: please shorten it and send it again.",
                        len(text),
                        limit=ctx.t.number(question.max_len),
                    )
                )
                return True
            answers = await self._answers(ctx)
            await self._save(ctx, answers, question.id, None, text)
            ctx.send(ctx._("✓ Saved."))
            await self._advance(ctx, question.id, answers)
            return True
        return False

    async def on_button(self, ctx: Context, node: str, value: str) -> None:
        ctx.toast()
        step = ctx.state.step
        if step == "resume":
            if value == "go":
                assessment = await ctx.repo.assessments.get(ctx.data["aid"])
                await self._continue(ctx, assessment)
            elif value == "new":
                assessment = await ctx.repo.assessments.get(ctx.data["aid"])
                if assessment is not None:
                    assessment.status = "dropped"
                await self._choose_company(ctx)
        elif step == "company":
            if value == "new":
                ctx.at("name")
                await self.show(ctx)
                return
            companies = {str(c.id): c for c in await ctx.repo.companies.of_user(ctx.user.id)}
            if value not in companies:
                ctx.invalid_button()
                return
            await self._start_assessment(ctx, companies[value].id)
        elif step == "ytunnus" and value == "skip":
            await self._new_company(ctx, None)
        elif step == "q":
            await self._question_button(ctx, node, value)
        elif step == "sum":
            await self._summary_button(ctx, value)
        elif step == "sumt":
            await self._theme_button(ctx, value)

    async def _question_button(self, ctx: Context, qid: str, value: str) -> None:
        question = ctx.kb.questions[qid]
        answers = await self._answers(ctx)
        here = ctx.message_id
        if value == "back":
            order = sequence(ctx.kb, answers)
            index = order.index(qid) if qid in order else 0
            ctx.at("q", q=order[max(0, index - 1)], ret=None)
            ctx.data.pop("sel", None)
            await self._show_question(ctx, answers, here)
        elif value == "skip":
            ctx.toast(ctx._("➡️ Skipped"))
            await self._advance(ctx, qid, answers, here)
        elif value == "pause":
            await self.on_cancel(ctx)
            ctx.go(None)
            ctx.edit(
                here,
                ctx._(
                    "⏸ Saved. Continue any time with /kartoitus or from the /start "
                    "menu: you will be back at this question."
                ),
            )
        elif question.type == "multi" and value.startswith("t."):
            await self._toggle(ctx, question, value[2:], answers)
        elif question.type == "multi" and value == "done":
            picked = ctx.data.get("sel") or []
            if not picked:
                ctx.toast(ctx._("Tick at least one item, or choose Skip."), alert=True)
                return
            await self._save(ctx, answers, qid, picked, None)
            labels = [o.label.get(ctx.lang) for o in ctx.kb.options[qid] if o.id in picked]
            ctx.toast("✓ " + ", ".join(labels))
            await self._advance(ctx, qid, answers, here)
        elif question.type == "single" and (option := ctx.kb.option(qid, value)) is not None:
            await self._save(ctx, answers, qid, value, None)
            ctx.toast("✓ " + option.label.get(ctx.lang))
            await self._advance(ctx, qid, answers, here)
        else:
            ctx.invalid_button()

    async def _toggle(
        self, ctx: Context, question: Question, option_id: str, answers: dict[str, Any]
    ) -> None:
        option = ctx.kb.option(question.id, option_id)
        if option is None:
            ctx.invalid_button()
            return
        picked: list[str] = list(ctx.data.get("sel") or [])
        if option_id in picked:
            picked.remove(option_id)
        elif option.exclusive:
            picked = [option_id]
        else:
            exclusive = {o.id for o in ctx.kb.options[question.id] if o.exclusive}
            picked = [p for p in picked if p not in exclusive] + [option_id]
        ctx.at("q", sel=picked)
        await self._show_question(ctx, answers, ctx.message_id)

    async def on_cancel(self, ctx: Context) -> None:
        """Leaving the flow (/cancel, ⏸ Later): remember the question to come back to."""
        if ctx.state.step == "q" and "aid" in ctx.data:
            assessment = await ctx.repo.assessments.get(ctx.data["aid"])
            if assessment is not None:
                assessment.position = ctx.data["q"]

    # ------------------------------------------------------------------ moving on

    async def _save(
        self, ctx: Context, answers: dict[str, Any], qid: str, value: Any, text: str | None
    ) -> None:
        """Write one answer now (and keep this event's copy of the answers current)."""
        await ctx.repo.answers.put(ctx.data["aid"], qid, ctx.kb.questionnaire.version, value, text)
        answers[qid] = text if value is None else value

    async def _advance(
        self, ctx: Context, qid: str, answers: dict[str, Any], message_id: int | None = None
    ) -> None:
        ctx.data.pop("sel", None)
        if ctx.data.get("ret") == "sum":
            ctx.at("sum", ret=None)
            await self._show_summary(ctx, answers, message_id)
            return
        order = sequence(ctx.kb, answers)
        index = order.index(qid) if qid in order else -1
        if index + 1 < len(order):
            ctx.at("q", q=order[index + 1])
            await self._show_question(ctx, answers, message_id)
        else:
            ctx.at("sum")
            await self._show_summary(ctx, answers, message_id)

    async def _new_company(self, ctx: Context, business_id: str | None) -> None:
        company = await ctx.repo.companies.add(ctx.user.id, ctx.data["name"], business_id)
        await self._start_assessment(ctx, company.id)

    async def _start_assessment(self, ctx: Context, company_id: int | None) -> None:
        assert company_id is not None
        version = ctx.kb.questionnaire.version
        assessment = await ctx.repo.assessments.add(company_id, ctx.user.id, version)
        assert assessment.id is not None
        previous = await ctx.repo.assessments.latest_done(company_id, before_id=assessment.id)
        answers: dict[str, Any] = {}
        if previous is not None and previous.id is not None:
            # A retake: the profile is usually unchanged, so it is carried over (and shown
            # with its answers ticked, to confirm or change).
            old = await ctx.repo.answers.of(previous.id)
            for question in ctx.kb.questionnaire.profile:
                if question.id in old and ctx.kb.option(question.id, old[question.id].value):
                    await ctx.repo.answers.put(
                        assessment.id, question.id, version, old[question.id].value, None
                    )
                    answers[question.id] = old[question.id].value
        ctx.go(self.name, "q", aid=assessment.id, q=sequence(ctx.kb, {})[0])
        ctx.send(
            ctx._(
                "Let's begin. Press a button to answer; ⬅️ Back returns to the previous "
                "question, Skip moves on, ⏸ Later saves your place."
            )
        )
        await self._show_question(ctx, answers)

    async def _continue(self, ctx: Context, assessment: Assessment | None) -> None:
        if assessment is None or assessment.status != "open":
            await self._choose_company(ctx)
            return
        assert assessment.id is not None
        answers = await ctx.repo.answers.values(assessment.id)
        order = sequence(ctx.kb, answers)
        unanswered = [q for q in order if q not in answers]
        if assessment.position in order:  # where they left off
            ctx.go(self.name, "q", aid=assessment.id, q=assessment.position)
        elif unanswered:
            ctx.go(self.name, "q", aid=assessment.id, q=unanswered[0])
        else:
            ctx.go(self.name, "sum", aid=assessment.id)
        await self.show(ctx)

    # ------------------------------------------------------------------ summary

    async def _show_summary(
        self, ctx: Context, answers: dict[str, Any], message_id: int | None = None
    ) -> None:
        kb = ctx.kb
        order = set(sequence(kb, answers))
        lines = [ctx._("📋 <b>Your answers</b>: check them before the results."), ""]
        buttons = []
        missing = dont_know = 0
        for theme in kb.questionnaire.themes:
            asked = [q for q in theme.questions if q.id in order]
            if not asked:
                continue
            done = sum(1 for q in asked if answers.get(q.id) is not None)
            missing += len(asked) - done
            dont_know += sum(
                1 for q in asked if (o := kb.option(q.id, str(answers.get(q.id)))) and o.dk
            )
            lines.append(
                f"{'✅' if done == len(asked) else '◻️'} {esc(theme.title.get(ctx.lang))}: "
                f"{done}/{len(asked)}"
            )
            buttons.append(Btn(theme.short.get(ctx.lang), self.payload("sum", theme.id)))
        lines.append("")
        if missing:
            lines.append(
                ctx.n_(
                    "{n} question is unanswered; it counts as “Don't know”.",
                    "{n} questions are unanswered; they count as “Don't know”.",
                    missing,
                )
            )
        if dont_know:
            lines.append(
                ctx.n_(
                    "{n} answer is “Don't know”: it is listed as a data gap.",
                    "{n} answers are “Don't know”: they are listed as data gaps.",
                    dont_know,
                )
            )
        lines.append(ctx._("Tap a theme to review or change its answers, or finish."))
        keyboard = join(
            rows([Btn(ctx._("👤 Company profile"), self.payload("sum", "profile"))]),
            rows(buttons, 2),
            rows([Btn(ctx._("✅ Finish and show my results"), self.payload("sum", "done"))]),
        )
        ctx.edit(message_id, "\n".join(lines), keyboard)

    async def _summary_button(self, ctx: Context, value: str) -> None:
        if value == "done":
            await self._finish(ctx)
            return
        themes = {t.id for t in ctx.kb.questionnaire.themes} | {"profile"}
        if value not in themes:
            ctx.invalid_button()
            return
        ctx.at("sumt", th=value)
        await self._show_theme(ctx, await self._answers(ctx), ctx.message_id)

    def _theme_questions(self, ctx: Context, answers: dict[str, Any]) -> list[Question]:
        order = set(sequence(ctx.kb, answers))
        theme_id = ctx.data.get("th")
        if theme_id == "profile":
            return list(ctx.kb.questionnaire.profile)
        theme = next(t for t in ctx.kb.questionnaire.themes if t.id == theme_id)
        return [q for q in theme.questions if q.id in order]

    async def _show_theme(
        self, ctx: Context, answers: dict[str, Any], message_id: int | None = None
    ) -> None:
        questions = self._theme_questions(ctx, answers)
        lines = []
        for number, question in enumerate(questions, 1):
            label = self._answer_label(ctx, question, answers.get(question.id))
            lines.append(f"{number}. {esc(question.text.get(ctx.lang))}\n   → <i>{esc(label)}</i>")
        lines.append("")
        lines.append(ctx._("Tap a number to change that answer."))
        buttons = [Btn(str(n), self.payload("sumt", q.id)) for n, q in enumerate(questions, 1)]
        keyboard = join(
            rows(buttons, 5),
            rows([Btn(ctx._("⬅️ Back to the summary"), self.payload("sumt", "back"))]),
        )
        ctx.edit(message_id, "\n".join(lines), keyboard)

    def _answer_label(self, ctx: Context, question: Question, value: Any) -> str:
        if value is None:
            return ctx._("not answered")
        if question.type == "text":
            return str(value)[:80] + ("…" if len(str(value)) > 80 else "")
        if question.type == "multi":
            return ", ".join(
                o.label.get(ctx.lang) for o in ctx.kb.options[question.id] if o.id in value
            )
        option = ctx.kb.option(question.id, value)
        return option.label.get(ctx.lang) if option else "?"

    async def _theme_button(self, ctx: Context, value: str) -> None:
        answers = await self._answers(ctx)
        if value == "back":
            ctx.at("sum")
            await self._show_summary(ctx, answers, ctx.message_id)
            return
        if value not in {q.id for q in self._theme_questions(ctx, answers)}:
            ctx.invalid_button()
            return
        ctx.at("q", q=value, ret="sum")
        ctx.data.pop("sel", None)
        await self._show_question(ctx, answers, ctx.message_id)

    async def _finish(self, ctx: Context) -> None:
        assessment = await ctx.repo.assessments.get(ctx.data["aid"])
        if assessment is None:
            ctx.go(None)
            return
        answers = await self._answers(ctx)
        ctx.go(None)
        ctx.edit(ctx.message_id, ctx._("✅ All answered. Here are your results."))
        await results.complete(ctx, assessment, answers)


kartoitus = router.flow(Kartoitus())


@router.command("kartoitus", "kysely")
async def kartoitus_command(ctx: Context, args: str) -> None:
    ctx.user.role = ctx.user.role or "company"
    await kartoitus.begin(ctx)


@router.deeplink
async def kartoitus_link(ctx: Context, payload: str) -> bool:
    if payload.lower() in ("kartoitus", "yritys", "company"):
        await kartoitus.begin(ctx)
        return True
    return False
