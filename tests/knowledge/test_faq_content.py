"""faq.yaml as a reader meets it: headings that are real questions, the entries young people
ask for, and answers that tell the ended project in the past and leave "who answers now" to
the operator profile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from knowledge.loader import Knowledge

# The raw texts: the loaded ones have {operator} and {contact} filled in from the operator
# profile, whose functional e-mail address is allowed.
RAW = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "knowledge" / "faq.yaml").read_text(encoding="utf-8")
)["faq"]

LANGS = ("fi", "en", "sv")
NEW_ENTRIES = {
    "visit_first",
    "cards_needed",
    "what_to_bring",
    "where",
    "part_time",
    "blogs",
    "third_sector",
    "city_units",
}


def test_every_heading_is_a_real_question(kb: Knowledge) -> None:
    for entry in kb.faq:
        for lang in LANGS:
            title = entry.questions.get(lang)[0]
            assert title[0].isupper() and title.endswith("?"), (entry.id, lang, title)
            assert len(title) <= 60, (entry.id, lang)  # it is also a "did you mean" button


def test_the_questions_young_people_ask_have_entries(kb: Knowledge) -> None:
    ids = {entry.id for entry in kb.faq}
    assert ids >= NEW_ENTRIES
    for entry in kb.faq:
        if entry.id in NEW_ENTRIES:
            for lang in LANGS:
                assert 8 <= len(entry.questions.get(lang)) <= 14, (entry.id, lang)


@pytest.mark.parametrize(
    "pattern",
    [
        r"koordinaattori|coordinator|koordinator",  # nobody is promised to get in touch
        r"KIERTO-ohjelm|KIERTO programme|KIERTO-programmet",  # hanke / project
        r"hiipakka|projektipäällik|project manager|projektledare",  # no official's name
        r"\b0\d{1,3}[ -]?\d{3}[ -]?\d{3,4}\b|@",  # no phone number or e-mail address
    ],
)
def test_answers_leave_contacts_to_the_operator_profile(pattern: str) -> None:
    hits = [
        (entry["id"], lang)
        for entry in RAW
        for lang in LANGS
        if re.search(pattern, entry["answer"][lang], re.IGNORECASE)
    ]
    assert hits == []


def test_who_answers_now_comes_from_the_placeholders() -> None:
    texts = [entry["answer"][lang] for entry in RAW for lang in LANGS]
    assert sum("{contact}" in t for t in texts) > 50
    assert set(re.findall(r"\{(\w+)\}", " ".join(texts))) == {"operator", "contact"}


def test_the_project_is_told_in_the_past(kb: Knowledge) -> None:
    kierto = next(entry for entry in kb.faq if entry.id == "kierto_what")
    assert "1.12.2021–31.8.2023" in kierto.answer.fi and "oli" in kierto.answer.fi
    assert "was" in kierto.answer.en and "var" in kierto.answer.sv
    agent = next(entry for entry in kb.faq if entry.id == "agentti_employer")
    assert "kaupungin omissa yksiköissä" in agent.answer.fi  # not offered to companies


def test_the_agent_and_the_collection_service_each_have_one_home(kb: Knowledge) -> None:
    """One entry answers both the company and the job seeker: the agent worked in the city's
    own units and was not offered to companies; the collection service was for companies,
    not a placement."""
    ids = {entry.id for entry in kb.faq}
    assert not ids & {"p_agentti", "p_nextiili_col"}
    agent = next(entry for entry in kb.faq if entry.id == "agentti_employer")
    assert "ei tarjottu yrityksille" in agent.answer.fi
    assert "not offered to companies" in agent.answer.en
    collection = next(entry for entry in kb.faq if entry.id == "collection_company")
    assert "not a workshop placement" in collection.answer.en
    assert "inte en verkstadsplats" in collection.answer.sv
    # PPPP has one home: the partners
    pppp = [
        e.id for e in kb.faq for lang in LANGS for q in e.questions.get(lang) if "pppp" in q.lower()
    ]
    assert set(pppp) == {"kierto_partners"}
