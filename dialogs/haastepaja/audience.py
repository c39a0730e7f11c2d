"""The end of /newevent: who gets the invitation, when, and the final yes.

    seg      group (all / companies / job seekers) and details to combine, toggled in
             place; the count of recipients is on the screen all the time
    when     send now, or at a time (`at`: typed as Finns type it)
    confirm  "Send to N people?" — the one press that queues the invitations

Only people who turned invitations on are counted or sent to (dialogs.haastepaja.segments);
people who already answered this event's invitation are not invited again. A second press
of Send finds the flow already ended: it is an earlier step's button and sends nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from dialogs.actions import Btn
from dialogs.flow import END, Step
from dialogs.haastepaja import clock
from dialogs.haastepaja import fields as f
from dialogs.haastepaja.jobs import already_invited, begin_broadcast
from dialogs.haastepaja.segments import Segment, audience, load_profiles
from dialogs.haastepaja.when import WhenError, fmt, parse_start
from dialogs.router import Context
from dialogs.store.haastepaja import Broadcast
from dialogs.ui import esc, rows
from locales.i18n import LANGS, LANGUAGE_NAMES

if TYPE_CHECKING:
    from dialogs.haastepaja.compose import Draft


def steps() -> tuple[Step, ...]:
    """The audience, time and confirmation steps of /newevent (dialogs.haastepaja.compose)."""
    return (
        Step(
            "seg",
            show=show_audience,
            buttons={
                "ok": audience_done,
                "w.*": toggle("w"),
                "i.*": toggle("i"),
                "s.*": toggle("s"),
                "l.*": toggle("l"),
                "t.*": toggle("t"),
                "g.*": toggle("g"),
                "lang.*": toggle("lang"),
            },
            goes=("when",),
        ),
        Step(
            "when",
            show=ask_when,
            buttons={"now": when_now, "at": when_at, "back": back_to_audience},
            goes=("confirm", "at", "seg"),
        ),
        Step("at", show=ask_at, text=take_at, goes=("confirm",)),
        Step(
            "confirm",
            show=show_confirm,
            buttons={"send": send, "back": confirm_back},
            goes=("seg", END),
        ),
    )


WEAK_BELOW = 40


def segment_of(data: Draft) -> Segment:
    return Segment(
        who=data.who,
        industries=data.ind,
        sizes=data.size,
        levels=data.lvl,
        weak_theme=data.weak or None,
        weak_below=WEAK_BELOW,
        tags=data.tags,
        langs=data.langs,
    )


async def recipients(ctx: Context, data: Draft) -> list[int]:
    profiles = audience(segment_of(data), await load_profiles(ctx.repo))
    skip = await already_invited(ctx.repo, data.event or 0)
    return [p.user_id for p in profiles if p.user_id not in skip]


def _flow():
    from dialogs.haastepaja.compose import compose

    return compose


def _tick(on: bool, label: str) -> str:
    return ("✓ " if on else "") + label


async def show_audience(ctx: Context, data: Draft, edit: bool = False) -> None:
    flow, kb = _flow(), ctx.kb.questionnaire
    n = len(await recipients(ctx, data))
    groups = {
        "all": ctx._("Everyone"),
        "companies": ctx._("Companies"),
        "jobseekers": ctx._("Job seekers"),
    }
    lines = [
        ctx._("👥 <b>Who gets the invitation?</b> Press to choose; choices combine."),
        ctx._("Group: {group}", group=groups[data.who]),
    ]
    keyboard = [
        tuple(
            Btn(_tick(data.who == who, label), flow.button("seg", f"w.{who}"))
            for who, label in groups.items()
        )
    ]
    if data.who == "companies":
        profile = {q.id: q for q in kb.profile}
        for key, qid, chosen in (("i", "industry", data.ind), ("s", "size", data.size)):
            keyboard += rows(
                [
                    Btn(
                        _tick(o.id in chosen, o.label.get(ctx.lang)),
                        flow.button("seg", f"{key}.{o.id}"),
                    )
                    for o in profile[qid].options
                ],
                3,
            )
        keyboard += rows(
            [
                Btn(
                    _tick(lv.id in data.lvl, lv.label.get(ctx.lang)),
                    flow.button("seg", f"l.{lv.id}"),
                )
                for lv in kb.levels
            ],
            3,
        )
        keyboard += rows(
            [
                Btn(
                    _tick(data.weak == th.id, f"{th.short.get(ctx.lang)} < {WEAK_BELOW}"),
                    flow.button("seg", f"t.{th.id}"),
                )
                for th in kb.themes
            ],
            3,
        )
        lines.append(
            ctx._(
                "Rows: industry, size, kartoitus level, and a weak theme (score below {n}).",
                n=WEAK_BELOW,
            )
        )
    elif data.who == "jobseekers":
        keyboard += rows(
            [
                Btn(
                    _tick(tag.id in data.tags, tag.label.get(ctx.lang)),
                    flow.button("seg", f"g.{tag.id}"),
                )
                for tag in ctx.kb.placements.interests
            ],
            2,
        )
        lines.append(ctx._("Interests from the placement finder: anyone with one of the chosen."))
    keyboard.append(
        tuple(
            Btn(_tick(lang in data.langs, LANGUAGE_NAMES[lang]), flow.button("seg", f"lang.{lang}"))
            for lang in LANGS
        )
    )
    lines.append(
        ctx.n_(
            "Recipients now: <b>{n}</b> person (only people who turned invitations on).",
            "Recipients now: <b>{n}</b> people (only people who turned invitations on).",
            n,
        )
    )
    keyboard.append((Btn(ctx._("➡️ Next"), flow.button("seg", "ok")),))
    text = "\n".join(lines)
    if edit:
        ctx.edit(ctx.message_id, text, tuple(keyboard))
    else:
        ctx.send(text, tuple(keyboard))


def _toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def toggle(key: str):
    """The handler of one row of toggles: `w.<group>`, `i.`, `s.`, `l.`, `t.`, `g.`, `lang.`."""

    async def handler(ctx: Context, data: Draft, item: str) -> None:
        await pick(ctx, data, key, item)

    return handler


async def pick(ctx: Context, data: Draft, key: str, item: str) -> None:
    kb = ctx.kb.questionnaire
    profile = {q.id: {o.id for o in q.options} for q in kb.profile}
    valid = {
        "w": {"all", "companies", "jobseekers"},
        "i": profile.get("industry", set()),
        "s": profile.get("size", set()),
        "l": {lv.id for lv in kb.levels},
        "t": {th.id for th in kb.themes},
        "g": {tag.id for tag in ctx.kb.placements.interests},
        "lang": set(LANGS),
    }
    if item not in valid.get(key, set()):
        ctx.invalid_button()
        return
    if key == "w":
        data = replace(data, who=item, ind=(), size=(), lvl=(), weak="", tags=())
    elif key == "t":
        data = replace(data, weak="" if data.weak == item else item)
    else:
        field = {"i": "ind", "s": "size", "l": "lvl", "g": "tags", "lang": "langs"}[key]
        data = replace(data, **{field: _toggle(getattr(data, field), item)})
    _flow().move(ctx, "seg", data)
    await show_audience(ctx, data, edit=True)


async def audience_done(ctx: Context, data: Draft, value: str) -> None:
    if not await recipients(ctx, data):
        ctx.toast(ctx._("Nobody matches these choices. Please widen them."), alert=True)
        return
    _flow().move(ctx, "when", data)
    await ask_when(ctx, data)


async def ask_when(ctx: Context, data: Draft) -> None:
    flow = _flow()
    ctx.send(
        ctx._("When should it be sent?"),
        rows(
            [
                Btn(ctx._("🚀 Now"), flow.button("when", "now")),
                Btn(ctx._("⏱ At a chosen time"), flow.button("when", "at")),
                Btn(ctx._("⬅️ Back to recipients"), flow.button("when", "back")),
            ]
        ),
    )


async def when_now(ctx: Context, data: Draft, value: str) -> None:
    data = replace(data, at="")
    _flow().move(ctx, "confirm", data)
    await show_confirm(ctx, data)


async def when_at(ctx: Context, data: Draft, value: str) -> None:
    _flow().move(ctx, "at", data)
    await ask_at(ctx, data)


async def back_to_audience(ctx: Context, data: Draft, value: str) -> None:
    _flow().move(ctx, "seg", data)
    await show_audience(ctx, data)


async def ask_at(ctx: Context, data: Draft) -> None:
    ctx.send(ctx._("Type when to send it, for example <code>1.2. klo 9</code>."))


async def take_at(ctx: Context, data: Draft, text: str) -> bool:
    event = await ctx.repo.hp_events.get(data.event or 0)
    try:
        at = parse_start(text, clock.now()).start
    except WhenError as error:
        ctx.send(f.when_error(ctx, error))
        return True
    if event is not None and at >= (event.deadline or event.starts_at):
        ctx.send(ctx._("⚠️ That is after signing up closes. Please choose an earlier time."))
        return True
    data = replace(data, at=at.isoformat())
    _flow().move(ctx, "confirm", data)
    await show_confirm(ctx, data)
    return True


async def show_confirm(ctx: Context, data: Draft) -> None:
    flow = _flow()
    event = await ctx.repo.hp_events.get(data.event or 0)
    title = esc(event.text("title", ctx.lang)[0]) if event else ""
    n = len(await recipients(ctx, data))
    if data.at:
        text = ctx.n_(
            "Send the invitation to <b>{title}</b> at {when}? Recipients now: <b>{n}</b> "
            "person; they are counted again at sending time.",
            "Send the invitation to <b>{title}</b> at {when}? Recipients now: <b>{n}</b> "
            "people; they are counted again at sending time.",
            n,
            title=title,
            when=fmt(datetime.fromisoformat(data.at), lang=ctx.lang),
        )
    else:
        text = ctx.n_(
            "Send the invitation to <b>{title}</b> now to <b>{n}</b> person?",
            "Send the invitation to <b>{title}</b> now to <b>{n}</b> people?",
            n,
            title=title,
        )
    ctx.send(
        text,
        rows(
            [
                Btn(ctx._("✅ Send"), flow.button("confirm", "send")),
                Btn(ctx._("⬅️ Back to recipients"), flow.button("confirm", "back")),
            ],
            2,
        ),
    )


async def send(ctx: Context, data: Draft, value: str) -> None:
    event = await ctx.repo.hp_events.get(data.event or 0, lock=True)
    now = clock.now()
    if event is None or event.status != "open" or event.starts_at <= now:
        ctx.send(ctx._("This event can no longer be invited to."))
        ctx.go(None)
        return
    at = datetime.fromisoformat(data.at) if data.at else now
    broadcast = Broadcast(
        event_id=event.id or 0,
        segment=segment_of(data).as_json(),
        send_at=at,
        created_by=ctx.user.id,
    )
    await ctx.repo.broadcasts.add(broadcast)
    ctx.repo.audit.log("broadcast", f"haastepaja:{event.id}", ctx.user.id)
    ctx.go(None)  # a second press of Send is now an earlier step's button
    if data.at:
        ctx.send(
            ctx._(
                "⏱ Scheduled for {when}. /events shows it; you can cancel it there before then.",
                when=fmt(at, lang=ctx.lang),
            )
        )
        return
    queued = await begin_broadcast(ctx.repo, ctx.translator, broadcast, event, now)
    ctx.send(
        ctx.n_(
            "✅ {n} invitation is queued. It goes out at the bot's sending pace; you get a "
            "delivery report when it is done, and /events shows the counts.",
            "✅ {n} invitations are queued. They go out at the bot's sending pace; you get a "
            "delivery report when all are done, and /events shows the counts.",
            queued,
        )
    )


async def confirm_back(ctx: Context, data: Draft, value: str) -> None:
    await back_to_audience(ctx, data, value)
