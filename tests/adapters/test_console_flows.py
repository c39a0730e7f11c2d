"""Whole paths through the real command line with piped input: the KIERTO-kartoitus to its
results, and the job seeker's finder to a saved interest."""

from __future__ import annotations

from pathlib import Path

from dialogs.scoring import sequence
from knowledge.loader import Knowledge
from tests.adapters.test_console import db_row, ok, run_chat


def kartoitus_input(kb: Knowledge) -> str:
    """Keys a person would type: the first option of every question (a checklist: its
    first item, then Done), a free-text answer, then Finish on the summary."""
    answers: dict[str, object] = {}
    for qid in sequence(kb, {}):  # the profile decides which questions follow
        if qid in {q.id for q in kb.questionnaire.profile}:
            answers[qid] = kb.options[qid][0].id
    lines = ["/start", "1", "Putkitettu Oy", "1"]  # company; its name; skip the Y-tunnus
    for qid in sequence(kb, answers):
        question = kb.questions[qid]
        if question.type == "text":
            lines.append("Kiitos!")
        elif question.type == "multi":
            lines += ["1", str(len(kb.options[qid]) + 1)]  # tick the first item, then Done
        else:
            lines.append("1")
    themes = [
        t
        for t in kb.questionnaire.themes
        if any(q.id in sequence(kb, answers) for q in t.questions)
    ]
    lines.append(str(1 + len(themes) + 1))  # profile button, theme buttons, then Finish
    lines.append("1")  # the results' first button: scores per theme, with the chart
    lines.append("/mydata")
    return "\n".join(lines) + "\n"


def test_the_whole_kartoitus_completes_with_piped_input(tmp_path: Path, kb: Knowledge) -> None:
    out = ok(run_chat(tmp_path, kartoitus_input(kb), "--out", str(tmp_path / "files"), lang="fi"))
    assert "KIERTO-kartoituksen tulokset · Putkitettu Oy" in out
    assert "Kolme parasta seuraavaa askeltasi" in out
    photos = sorted((tmp_path / "files").glob("*kierto-kartoitus.png"))
    assert photos and photos[0].read_bytes().startswith(b"\x89PNG")
    row = db_row(tmp_path, "SELECT status, overall FROM assessments")
    assert row is not None and row[0] == "done" and row[1] is not None
    answered = db_row(tmp_path, "SELECT COUNT(*) FROM answers")
    assert answered is not None and answered[0] >= 36


def test_the_job_seeker_path_with_piped_input(tmp_path: Path, kb: Knowledge) -> None:
    interests = [t.id for t in kb.placements.interests]
    food = interests.index("food") + 1
    done = len(interests) + 1
    skills = len(kb.placements.skills)
    keys = [
        "/start",
        "2",
        str(food),
        str(done),
        "2",
        "1",
        str(skills + 1),  # the finder
        "1",  # the best match's card
        "1",  # I'm interested: the shipped example profile has no staff, so where to ask
        "1",  # the menu
        "mikä on palkkatuki?",
    ]
    out = ok(run_chat(tmp_path, "\n".join(keys) + "\n", lang="fi"))
    restaurant = kb.placement("ravintola_kierto")
    assert restaurant is not None and restaurant.name.get("fi") in out
    assert "Tämän botin kautta ei tällä hetkellä vastaa kukaan henkilökohtaisesti." in out
    assert restaurant.how_to_apply is not None
    assert " ".join(restaurant.how_to_apply.fi.split()) in " ".join(out.split())
    assert "koordinaattori" not in out  # nobody is promised
    assert db_row(tmp_path, "SELECT placement_id FROM placement_interests") is None
    assert "💡" in out  # the free-text question was answered from the FAQ
