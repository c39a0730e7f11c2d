"""The flow machinery: step tables, the diagrams made from them, hooks given once, help
texts registered with their commands, and stored states that no longer fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from dialogs import routers
from dialogs.diagram import document
from dialogs.engine import Engine
from dialogs.flow import Flow, Step
from dialogs.router import Context, Router
from tests.dialogs.test_kartoitus import current_qid, start_company

DOCS = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


def test_docs_flows_md_is_the_generated_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows"]) == 0
    printed = capsys.readouterr().out
    assert printed == document(routers())
    assert DOCS.read_text(encoding="utf-8") == printed, "run: kierto-bot flows > docs/flows.md"
    assert "stateDiagram-v2" in printed and "## kartoitus" in printed


def test_a_hook_can_be_registered_only_once() -> None:
    router = Router("a")

    @router.hook("aside")
    async def first(ctx: Context, text: str) -> bool:
        return False

    with pytest.raises(ValueError, match="registered twice"):

        @router.hook("aside")
        async def second(ctx: Context, text: str) -> bool:
            return True

    with pytest.raises(ValueError, match="unknown hook"):
        router.hook("fallback")


async def test_two_routers_giving_one_hook_is_an_error(app: App) -> None:
    one, two = Router("one"), Router("two")

    @one.hook("text_fallback")
    async def a(ctx: Context, text: str) -> None: ...

    @two.hook("text_fallback")
    async def b(ctx: Context, text: str) -> None: ...

    with pytest.raises(ValueError, match="text_fallback"):
        Engine(app.db, app.kb, app.i18n, app.engine.services, [one, two])


def test_a_step_table_is_checked_when_the_flow_is_made() -> None:
    async def show(ctx: Context, data: object) -> None: ...

    class Broken(Flow):
        name, prefix, Data = "broken", "zb", dict

        async def begin(self, ctx: Context, arg: str = "") -> None: ...

    with pytest.raises(ValueError, match="declared twice"):
        Broken([Step("a", show), Step("a", show)])
    with pytest.raises(ValueError, match="unknown 'b'"):
        Broken([Step("a", show, goes=("b",))])


async def test_help_and_menus_come_from_the_registrations(app: App, chat) -> None:
    everyone = (
        ("start", "start again and choose what to do"),
        ("kartoitus", "KIERTO-kartoitus: how circular is my company"),
        ("tyopaja", "find a workshop placement"),
        ("ask", "ask a question, e.g. /ask what is a challenge workshop"),
        ("human", "talk to a person"),
        ("cancel", "stop what you are doing (answers are kept)"),
        ("settings", "language and invitations"),
        ("privacy", "what I store and why"),
        ("mydata", "see everything I store about you"),
        ("forget", "erase everything I store about you"),
        ("help", "what I can do"),
    )
    staff = (
        ("tickets", "open questions handed to a person"),
        ("ticket", "one ticket's conversation: /ticket 12"),
        ("reply", "answer a ticket: /reply 12 your answer"),
        ("leads", "new contact requests and placement interests"),
        ("stats", "kartoitus statistics: /stats or /stats 30"),
        ("admin", "a sign-in link to the back office"),
        ("events", "haastepaja events: counts, attendee lists, check-in QR"),
        ("newevent", "create a haastepaja and invite people"),
    )
    async with app.db.unit() as repo:
        menus = await app.engine.command_menus(repo)
    assert next(m for m in menus if m.language == "en").commands == everyone
    assert dict(menus[0].commands)["help"] == "mitä osaan tehdä"  # the default language
    assert next(m for m in menus if m.chat_id == 7).commands[len(everyone) :] == tuple(
        (name, app.i18n("fi")._(text)) for name, text in staff
    )
    me = chat(user_id=7, lang="en")
    await me.send("/help")
    assert me.last.text.splitlines()[1] == "/start — start again and choose what to do"
    assert "/reply — answer a ticket: /reply 12 your answer" in me.last.text


async def set_state(app: App, user_id: int, flow: str, step: str, data: dict) -> None:
    async with app.db.unit() as repo:
        state = await repo.states.get(user_id)
        state.flow, state.step, state.data = flow, step, data


async def test_a_kartoitus_state_saved_by_older_code_restarts_politely(app: App, chat) -> None:
    me = chat(lang="en")
    await start_company(me, "Vanha Oy")
    qid = current_qid(me)
    async with app.db.unit() as repo:
        aid = (await repo.assessments.of_user(me.user_id))[0].id
    # the old code's short keys, at the old step name and at a step that still exists
    for step in ("resume", "q"):
        await set_state(app, me.user_id, "kartoitus", step, {"aid": aid, "q": qid})
        await me.press(f"k:{qid}:skip")
        assert me.last.text.startswith("You have an unfinished assessment for Vanha Oy")
        assert me.last.payloads == ["k:res:go", "k:res:new"]
    await set_state(app, me.user_id, "kartoitus", "q", {"aid": "not a number"})
    await me.send("hello there")
    assert me.last.text.startswith("You have an unfinished assessment for Vanha Oy")
    await me.press("k:res:go")
    assert current_qid(me) == qid  # and on it goes, at the first unanswered question


async def test_other_flows_with_unreadable_states_start_again(app: App, chat) -> None:
    me = chat(lang="en")
    await me.send("/start")
    await set_state(app, me.user_id, "placement", "int", {"int": ["food"], "learn": []})
    await me.send("/menu")
    await me.press("m:resume")
    assert me.texts[0].startswith("🧰 <b>Workshops</b>")
    assert me.last.text == "1/4 · What interests you? Tick all that apply, then press Done."
    await set_state(app, me.user_id, "handoff", "confirm", {"q": "old", "topic": "faq"})
    await me.press("h:cf:yes")
    assert me.last.text.startswith("🙋 Write your question and I will pass it to the staff of")
    async with app.db.unit() as repo:
        assert await repo.tickets.open() == []  # nothing was sent on a state it cannot read
