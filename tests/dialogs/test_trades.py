"""The questionnaire fits each trade: trade modules, tips gated by trade and size, tenants'
and sole traders' honest answers, employer duties only with employees, the impacts question,
one voice, and answers given to the previous version still readable."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dialogs.scoring import best_tips, score, sequence, theme_weights, tip_applies
from knowledge.loader import Knowledge

PROFILE = {"size": "micro", "customers": "b2c", "municipality": "tampere"}


def company(kb: Knowledge, industry: str, prefer: tuple[str, ...], **profile: Any) -> dict:
    """A whole questionnaire answered with the first of `prefer` each question offers."""
    answers: dict[str, Any] = {"industry": industry, "offering": "services", **PROFILE, **profile}
    for qid in sequence(kb, answers):
        question = kb.questions[qid]
        if qid in answers or question.type == "text" or qid == "impacts":
            continue
        if question.type == "multi":
            answers[qid] = []
            continue
        ids = [o.id for o in kb.options[qid]]
        answers[qid] = next((p for p in prefer if p in ids), ids[0])
    return answers


STARTING = ("no", "m1", "r0")  # a company at the very start
SOME = ("partly", "m2", "r1")  # one that has done a little
UNSURE = ("dk",)


@pytest.mark.parametrize("prefer", [STARTING, SOME, UNSURE], ids=["starting", "some", "unsure"])
@pytest.mark.parametrize(
    ("industry", "own_tips"),
    [
        ("food", {"wa7_weigh", "wa8_sell_surplus", "lo5_own_box", "wa4_surplus_food"}),
        ("construction", {"wa9_site_sorting", "ma6_survey"}),
        ("beauty", {"wa10_scales", "en5_salon_showers", "ma7_ecolabel"}),
    ],
    ids=["cafe", "construction", "hair_salon"],
)
def test_top_three_fits_the_trade(
    kb: Knowledge, industry: str, own_tips: set[str], prefer: tuple[str, ...]
) -> None:
    answers = company(kb, industry, prefer)
    top = best_tips(kb, answers)
    assert len(top) == 3
    tags = [set(r.tip.trades) for r in top]
    # none written for another trade; at least one written for this one
    assert all(not t or industry in t for t in tags), [r.tip.id for r in top]
    own = [r.tip.id for r in top if industry in r.tip.trades]
    assert own and set(own) <= own_tips


@pytest.mark.parametrize("industry", ["construction", "beauty", "it", "retail"])
def test_no_one_but_food_service_is_told_to_give_surplus_food_to_food_aid(
    kb: Knowledge, industry: str
) -> None:
    for prefer in (STARTING, SOME, UNSURE):
        answers = company(kb, industry, prefer)
        fitting = [t for t in kb.tips if tip_applies(kb, t, answers)]
        assert fitting, "the company gets tips at all"
        assert not [t.id for t in fitting if t.trades and industry not in t.trades]
        ids = {t.id for t in fitting}
        assert "wa4_surplus_food" not in ids and "wa8_sell_surplus" not in ids


def test_trade_modules_are_asked_of_their_trade_only(kb: Knowledge) -> None:
    asked = {ind: set(sequence(kb, {"industry": ind})) for ind in ("food", "construction", "it")}
    assert {"wa7", "wa8", "lo5"} <= asked["food"]
    assert {"ma6", "wa9"} <= asked["construction"]
    assert not {"wa7", "wa8", "lo5", "ma6", "wa9", "wa10", "wa11", "wa12"} & asked["it"]
    assert not {"wa7", "lo5"} & asked["construction"]


def test_the_industry_list_covers_personal_services_cleaning_and_repair(kb: Knowledge) -> None:
    ids = {o.id for o in kb.options["industry"]}
    assert {"food", "construction", "beauty", "retail", "textiles"} <= ids
    assert {"personal", "cleaning", "repair"} <= ids


@pytest.mark.parametrize("qid", ["en1", "en2", "en4", "wa5", "wa6"])
def test_a_tenant_answering_included_in_the_rent_is_not_a_data_gap(kb: Knowledge, qid: str) -> None:
    base = company(kb, "beauty", SOME)
    rent = next(o for o in kb.options[qid] if o.id == "rent")
    assert rent.na and not rent.dk
    tenant = score(kb, {**base, qid: "rent"})
    unsure = score(kb, {**base, qid: "dk"})
    assert qid not in tenant.gaps
    assert qid in unsure.gaps
    theme = kb.theme_of[qid].id
    # left out of the theme, not scored as zero
    assert tenant.themes[theme].asked == unsure.themes[theme].asked - 1
    assert tenant.themes[theme].score > unsure.themes[theme].score


def test_a_sole_trader_is_not_asked_about_staff_and_i_work_alone_is_no_gap(
    kb: Knowledge,
) -> None:
    assert "pe1" not in sequence(kb, {"size": "solo"})
    assert "pe1" in sequence(kb, {"size": "micro"})
    answers = {**company(kb, "services", SOME), "pe1": "alone"}
    assert "pe1" not in score(kb, answers).gaps
    # staff tips only for companies with staff
    assert all(t.sizes and "solo" not in t.sizes for t in kb.tips if t.question == "pe1")


def test_employer_red_flags_only_with_employees(kb: Knowledge) -> None:
    base = company(kb, "beauty", SOME)
    bad = {**base, "wa3": "no", "wa1": "no"}
    solo = score(kb, {**bad, "size": "solo"})
    micro = score(kb, {**bad, "size": "micro"})
    assert "wa3" in micro.red_flags and "wa3" not in solo.red_flags
    # the Waste Act binds everyone, employees or not
    assert "wa1" in micro.red_flags and "wa1" in solo.red_flags
    # a size not yet given is not proof of having no staff: the flag stays
    unknown = {k: v for k, v in bad.items() if k != "size"}
    assert "wa3" in score(kb, unknown).red_flags


def test_construction_waste_red_flag_for_construction(kb: Knowledge) -> None:
    answers = {**company(kb, "construction", SOME), "wa9": "no"}
    assert "wa9" in score(kb, answers).red_flags


def test_the_most_significant_impacts_weigh_their_themes(kb: Knowledge) -> None:
    assert sequence(kb, {})[: len(kb.questionnaire.profile)][-1] == "impacts"
    plain = theme_weights(kb, {"industry": "services"})
    picked = theme_weights(kb, {"industry": "services", "impacts": ["energy", "transport"]})
    assert picked["energy"] == pytest.approx(1.5 * plain["energy"])
    assert picked["logistics"] == pytest.approx(1.5 * plain["logistics"])
    assert picked["waste"] == plain["waste"]
    answers = company(kb, "services", SOME)
    low_energy = {**answers, "en1": "no", "en2": "no", "en4": "no", "en5": "no"}
    assert score(kb, {**low_energy, "impacts": ["energy"]}).overall < score(kb, low_energy).overall


def test_answers_to_the_previous_version_stay_readable(kb: Knowledge) -> None:
    """A 2026.1 assessment: pl4 (now retired) and the old meanings of en4/pl1/bm4."""
    old = {
        "industry": "manufacturing",
        "size": "small",
        "offering": "products",
        "en4": "yes",
        "pl1": "m3",
        "pl4": "partly",
        "bm4": "no",
    }
    assert kb.questions["pl4"].retired and "pl4" not in sequence(kb, old)
    result = score(kb, old)
    assert "pl4" not in result.gaps
    assert kb.option("pl4", "partly") is not None  # the old answer can still be shown
    assert not [r for r in best_tips(kb, old) if r.tip.question == "pl4"]


FIRST_PERSON_PLURAL = re.compile(r"\b(me|meillä|meidän|meitä|\w{3,}mme|\w+mmekö)\b", re.I)


def test_one_voice_in_the_questions_and_levels(kb: Knowledge) -> None:
    q = kb.questionnaire
    texts = [x.text for x in q.profile] + [x.text for t in q.themes for x in t.questions]
    for text in texts:
        assert not FIRST_PERSON_PLURAL.search(text.fi), text.fi
        assert not re.search(r"\b(we|our|us)\b", text.en, re.I), text.en
        assert not re.search(r"\b(vi|vår|våra|vårt|oss)\b", text.sv, re.I), text.sv
    for level in q.levels:
        assert not re.search(r"\b(Olette|Te|teidän)\b|\w+(kää|kaa)\b", level.description.fi)
    labels = [level.label.fi for level in q.levels]
    assert labels == ["Alkuvaihe", "Alkuun päässyt", "Kehittyvä", "Edistynyt", "Edelläkävijä"]


def test_a_sole_trader_gets_no_tip_meant_for_employers(kb: Knowledge) -> None:
    employer_tips = {t.id for t in kb.tips if t.sizes and "solo" not in t.sizes}
    assert {"pe1_staff_meeting", "lo4_commute_benefit", "st2_job_role"} <= employer_tips
    for prefer in (STARTING, SOME, UNSURE):
        answers = company(kb, "services", prefer, size="solo")
        fitting = {t.id for t in kb.tips if tip_applies(kb, t, answers)}
        assert fitting and not fitting & employer_tips
        with_staff = company(kb, "services", prefer, size="small")
        assert {t.id for t in kb.tips if tip_applies(kb, t, with_staff)} & employer_tips
