"""The engine with an outbox (as the Telegram doors run it): replies written with the
step's writes, the database being unreachable told from a bug, a lost reply recovered by
the next press, and input the door must clean or refuse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from bot.app import App
from dialogs.actions import Edit, Send, SendFile, Toast
from dialogs.engine import Engine
from dialogs.events import Command, Event, Sender, clean_text
from dialogs.router import Context, Router
from dialogs.store.db import StoreUnavailable, is_connection_error
from dialogs.store.models import Company, OutboxMessage, ProcessedUpdate
from knowledge.loader import Knowledge
from tests.conversation import Conversation
from tests.dialogs.test_kartoitus import answer_all, current_qid, start_company


@pytest.fixture
def durable(app: App) -> App:
    app.engine.outbox = True
    return app


async def rows(app: App) -> list[OutboxMessage]:
    async with app.db.unit() as repo:
        result = await repo.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(result.scalars())


async def deliver(app: App, me: Conversation, only: type | None = None) -> None:
    """What the door does once Telegram confirms each message of the latest event: the
    conversation helper's own message ids stand for Telegram's."""
    own = me.chat_id or me.user_id
    sends = [a for a in me.actions if isinstance(a, Send) and a.chat_id == own]
    newest = sorted(me.messages)[-len(sends) :] if sends else []
    ids = dict(zip(map(id, sends), newest, strict=True))
    for n, action in enumerate(me.actions):
        if getattr(action, "outbox_id", None) is None or (only and not isinstance(action, only)):
            continue
        message_id = ids.get(id(action)) or getattr(action, "message_id", None) or 900 + n
        async with app.db.unit() as repo:
            await repo.outbox.claim(action.outbox_id)
            await repo.outbox.sent(action.outbox_id, message_id)


async def test_replies_are_queued_with_the_step_and_named_by_row(durable: App, chat) -> None:
    me = chat(lang="en")
    actions = await me.send("/start")
    sends = [a for a in actions if isinstance(a, Send)]
    queued = await rows(durable)
    assert [a.outbox_id for a in sends] == [r.id for r in queued]
    assert all(r.status == "pending" and r.kind == "reply" and r.user_id == 42 for r in queued)
    assert [r.action["text"] for r in queued] == [a.text for a in sends]


async def test_a_press_answers_without_storing_the_toast(durable: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    before = len(await rows(durable))
    actions = await me.press("m:company")
    assert any(isinstance(a, Toast) for a in actions)
    messages = [a for a in actions if not isinstance(a, Toast)]
    assert len(await rows(durable)) == before + len(messages)


def _refused() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))


def test_connection_errors_are_told_from_bugs() -> None:
    assert is_connection_error(_refused())
    assert is_connection_error(OSError("unreachable"))
    assert is_connection_error(TimeoutError())
    import asyncpg

    assert is_connection_error(asyncpg.TooManyConnectionsError("too many clients"))
    wrapped = sa_exc.DBAPIError("x", {}, Exception("gone"), connection_invalidated=True)
    assert is_connection_error(wrapped)
    assert not is_connection_error(RuntimeError("bug"))
    assert not is_connection_error(KeyError("k"))
    assert not is_connection_error(sa_exc.OperationalError("x", {}, Exception("no such table: t")))
    assert not is_connection_error(sa_exc.IntegrityError("x", {}, Exception("UNIQUE")))


async def test_database_unreachable_is_not_apologised_nor_confirmed(durable: App) -> None:
    router = Router("down")

    @router.command("down")
    async def down(ctx: Context, args: str) -> None:
        ctx.send("you should never see this")
        raise _refused()

    engine = Engine(durable.db, durable.kb, durable.i18n, durable.engine.services, [router])
    engine.outbox = True
    sender = Sender(99, 99, "en")
    await durable.engine.handle(Event(sender, Command("start"), update_id=1))
    before = len(await rows(durable))
    confirmed: list[bool] = []
    with pytest.raises(StoreUnavailable):
        await engine.handle(
            Event(sender, Command("down"), update_id=2), lambda: confirmed.append(True)
        )
    assert confirmed == []  # the door is not told it may confirm
    assert len(await rows(durable)) == before
    async with durable.db.unit() as repo:  # not marked: a redelivery is handled in full
        marked = select(func.count()).select_from(ProcessedUpdate)
        assert (await repo.session.execute(marked)).scalar_one() == 1


async def test_a_bug_still_gets_the_apology(durable: App) -> None:
    router = Router("bug")

    @router.command("bug")
    async def bug(ctx: Context, args: str) -> None:
        raise ZeroDivisionError

    engine = Engine(durable.db, durable.kb, durable.i18n, durable.engine.services, [router])
    await durable.engine.handle(Event(Sender(98, 98, "en"), Command("start")))
    actions = await engine.handle(Event(Sender(98, 98, "en"), Command("bug"), update_id=3))
    assert isinstance(actions[0], Send) and "went wrong" in actions[0].text


async def test_a_press_whose_next_step_was_lost_shows_that_step_again(
    durable: App, chat: Callable[..., Conversation], kb: Knowledge
) -> None:
    me = chat(lang="en")
    await start_company(me)
    await deliver(durable, me)
    q1 = current_qid(me)
    question = me.keyboard_message.id
    await me.press(f"k:{q1}:{kb.options[q1][0].id}", message_id=question)
    # the answer is committed, but the edit that shows the next question never reaches
    # Telegram (a crash): the person still sees q1 and presses it again
    q2 = current_qid(me)
    assert q2 != q1
    actions = await me.press(f"k:{q1}:{kb.options[q1][1].id}", message_id=question)
    shown = [a for a in actions if isinstance(a, Send | Edit)]
    assert shown and any(f"k:{q2}:" in b.payload for a in shown for r in a.keyboard for b in r)
    assert not any("earlier step" in t.text for t in me.toasts)


async def test_a_press_on_an_old_message_is_still_stale(
    durable: App, chat: Callable[..., Conversation], kb: Knowledge
) -> None:
    me = chat(lang="en")
    await start_company(me)
    await deliver(durable, me)
    q1 = current_qid(me)
    question = me.keyboard_message.id
    await me.press(f"k:{q1}:{kb.options[q1][0].id}", message_id=question)
    await deliver(durable, me)  # the next question did arrive
    await me.press(f"k:{q1}:{kb.options[q1][1].id}", message_id=question)
    assert "earlier step" in me.toasts[-1].text


async def test_files_made_after_the_commit_have_a_marker_row(
    durable: App, chat: Callable[..., Conversation], kb: Knowledge
) -> None:
    me = chat(lang="fi")
    await start_company(me, "Raportti Oy")
    await answer_all(me, kb)
    await me.press("k:sum:done")
    # the radar chart comes with the per-theme details, behind their button
    actions = await me.press(next(p for p in me.last.payloads if p.endswith(":details")))
    photo = next(a for a in actions if isinstance(a, SendFile))
    marker = next(r for r in await rows(durable) if r.id == photo.outbox_id)
    assert marker.action["type"] == "deferred" and marker.status == "pending"
    assert "Paina painiketta uudelleen" in marker.action["text"]  # the fallback, in Finnish


def test_control_characters_are_removed() -> None:
    assert clean_text("Testi\x00 Oy\x07\u200b") == "Testi Oy\u200b"
    assert clean_text("a\r\nb\rc\td") == "a\nb\nc\td"
    assert clean_text("\ud800x\ufeff") == "x"


async def test_a_nul_in_a_company_name_is_stored_without_it(
    any_db, make_app, settings, kb: Knowledge
) -> None:
    app = await make_app(settings, db=any_db)
    me = Conversation(app.engine, user_id=61, lang="en")
    await me.send("/kartoitus")
    if any(p.startswith("k:co:") for p in me.last.payloads):
        await me.press("k:co:new")
    await me.send("Nolla\x00 Oy")
    await me.press("k:yt:skip")
    assert current_qid(me) is not None  # the next step works
    async with app.db.unit() as repo:
        names = (await repo.session.execute(select(Company.name))).scalars().all()
    assert names == ["Nolla Oy"]


async def test_forged_ids_and_times_are_answered_clearly(any_db, make_app, settings) -> None:
    app = await make_app(settings, db=any_db)
    me = Conversation(app.engine, user_id=62, lang="en")
    await me.send("/start")
    await me.press("kr:999999999999:pdf")
    assert "not valid" in me.toasts[-1].text
    await me.press("forget:yes:99999999999")  # a confirmation dated in the future
    assert "not valid" in me.toasts[-1].text  # refused by the payload codec, before a query
    staff = Conversation(app.engine, user_id=7, lang="en")
    await staff.send("/reply 99999999999 hi")
    assert "/reply 12" in staff.said  # a usage line (staff texts: the default language)


async def test_forget_removes_the_persons_ticket_posts_from_the_staff_chat(
    durable: App, chat: Callable[..., Conversation]
) -> None:
    me = chat(user_id=63, lang="en")
    await me.send("/start")
    await me.send("/human I need to talk to someone about placements")
    await me.press(me.last.payloads[0])  # yes, send it to a person
    posts = [a for a in me.actions if isinstance(a, Send) and a.chat_id == -100500]
    assert posts, me.said
    await deliver(durable, me)
    await me.send("/forget")
    await me.press(me.last.payloads[0])
    edits = [a for a in me.actions if isinstance(a, Edit) and a.chat_id == -100500]
    assert len(edits) == 1 and edits[0].message_id >= 900  # the delivered ticket post
    assert "Removed at the person's request" in edits[0].text or "pyynnöstä" in edits[0].text
