"""KIERTO-kartoitus scoring and tip ranking against hand-computed examples."""

from __future__ import annotations

import random

import pytest
import yaml

from dialogs.scoring import best_tips, score, sequence, with_tip
from knowledge.loader import Knowledge
from knowledge.schema import (
    FaqBook,
    OperatorFile,
    PlacementBook,
    Questionnaire,
    ServiceBook,
    TipBook,
)
from tests.knowledge.test_operator import FILLED


def t(text: str) -> dict[str, str]:
    return {"fi": text, "en": text, "sv": text}


YNP = [
    {"id": "yes", "label": t("yes"), "score": 1},
    {"id": "partly", "label": t("partly"), "score": 0.5},
    {"id": "no", "label": t("no"), "score": 0},
    {"id": "dk", "label": t("don't know"), "score": 0, "dk": True},
    {"id": "na", "label": t("not relevant"), "na": True},
]


@pytest.fixture(scope="module")
def mini() -> Knowledge:
    """Two themes, five scored questions, one profile question, three tips.

    Theme A: a1 (yes/partly/no, weight 2), a2 (checklist x 0.5 · y 0.5 · z exclusive 0,
    weight 1), a3 (weight 3, only for product companies). Theme B: b1 (weight 1, red flag on
    "no"), b2 (weight 1). Service companies weigh theme B double.
    """
    q = Questionnaire.model_validate(
        {
            "version": "test.1",
            "scales": {"ynp": YNP},
            "profile": [
                {
                    "id": "offering",
                    "type": "single",
                    "text": t("offering?"),
                    "options": [
                        {"id": "products", "label": t("products")},
                        {"id": "services", "label": t("services")},
                    ],
                }
            ],
            "themes": [
                {
                    "id": "a",
                    "title": t("Theme A"),
                    "short": t("A"),
                    "questions": [
                        {
                            "id": "a1",
                            "type": "single",
                            "text": t("a1"),
                            "scale": "ynp",
                            "weight": 2,
                        },
                        {
                            "id": "a2",
                            "type": "multi",
                            "text": t("a2"),
                            "weight": 1,
                            "options": [
                                {"id": "x", "label": t("x"), "score": 0.5, "model": "m1"},
                                {"id": "y", "label": t("y"), "score": 0.5},
                                {"id": "z", "label": t("none"), "score": 0, "exclusive": True},
                            ],
                        },
                        {
                            "id": "a3",
                            "type": "single",
                            "text": t("a3"),
                            "scale": "ynp",
                            "weight": 3,
                            "ask_if": {"offering": ["products"]},
                        },
                    ],
                },
                {
                    "id": "b",
                    "title": t("Theme B"),
                    "short": t("B"),
                    "questions": [
                        {
                            "id": "b1",
                            "type": "single",
                            "text": t("b1"),
                            "scale": "ynp",
                            "red_flag": {"when": ["no"], "text": t("legal basic")},
                        },
                        {"id": "b2", "type": "single", "text": t("b2"), "scale": "ynp"},
                        {"id": "b3", "type": "text", "text": t("anything else?"), "optional": True},
                    ],
                },
            ],
            "profile_weights": [{"when": {"offering": ["services"]}, "themes": {"b": 2.0}}],
            "levels": [
                {"id": "low", "min": 0, "label": t("low"), "description": t("low")},
                {"id": "high", "min": 50, "label": t("high"), "description": t("high")},
            ],
            "models": [{"id": "m1", "label": t("model 1"), "description": t("m1")}],
        }
    )
    tips = TipBook.model_validate(
        {
            "tips": [
                {
                    "id": "t1",
                    "theme": "a",
                    "question": "a1",
                    "when": ["no", "partly"],
                    "target": "yes",
                    "effort": 1,
                    "impact": 1,
                    "title": t("t1"),
                    "text": t("t1"),
                },
                {
                    "id": "t2",
                    "theme": "a",
                    "question": "a3",
                    "when": ["no", "dk"],
                    "target": "yes",
                    "effort": 3,
                    "impact": 2,
                    "title": t("t2"),
                    "text": t("t2"),
                },
                {
                    "id": "t3",
                    "theme": "a",
                    "question": "a2",
                    "when_missing": "y",
                    "effort": 2,
                    "impact": 1,
                    "title": t("t3"),
                    "text": t("t3"),
                },
                {
                    "id": "t4",
                    "theme": "b",
                    "question": "b2",
                    "when": ["dk"],
                    "target": "yes",
                    "effort": 1,
                    "impact": 1,
                    "title": t("t4"),
                    "text": t("t4"),
                },
            ]
        }
    )
    services = ServiceBook.model_validate(
        {"services": [{"id": "s", "name": t("s"), "provider": t("p"), "description": t("d")}]}
    )
    placements = PlacementBook.model_validate(
        {
            "partners": [{"id": "p", "name": "P", "description": t("p")}],
            "interests": [{"id": "i", "label": t("i")}],
            "placements": [
                {
                    "id": "pl",
                    "partner": "p",
                    "name": t("pl"),
                    "summary": t("s"),
                    "what_you_do": t("d"),
                    "what_you_learn": t("l"),
                    "interests": ["i"],
                }
            ],
        }
    )
    faq = FaqBook.model_validate(
        {
            "faq": [
                {
                    "id": "f",
                    "topic": "t",
                    "questions": {"fi": ["q"], "en": ["q"], "sv": ["q"]},
                    "answer": t("a"),
                }
            ]
        }
    )
    operator = OperatorFile.model_validate(yaml.safe_load(FILLED.read_text(encoding="utf-8")))
    return Knowledge.build(q, tips, services, placements, faq, operator)


def test_example_product_company(mini: Knowledge) -> None:
    answers = {
        "offering": "products",
        "a1": "partly",
        "a2": ["x"],
        "a3": "no",
        "b1": "yes",
        "b2": "dk",
        "b3": "free text is never scored",
    }
    result = score(mini, answers)
    # A = 100 × (0.5×2 + 0.5×1 + 0×3) / (2+1+3) = 25;  B = 100 × (1 + 0) / 2 = 50
    assert result.themes["a"].score == pytest.approx(25.0)
    assert result.themes["b"].score == pytest.approx(50.0)
    assert result.overall == pytest.approx(37.5)
    assert result.level == "low"
    assert result.gaps == ["b2"]
    assert result.red_flags == []
    assert result.models == ["m1"]


def test_example_service_company_weights_branching_and_not_relevant(mini: Knowledge) -> None:
    answers = {
        "offering": "services",
        "a1": "na",
        "a2": ["x", "y"],
        "a3": "yes",
        "b1": "no",
    }  # a3 does not apply to services; b2 was skipped
    result = score(mini, answers)
    # a1 "not relevant" leaves the denominator; a3 is not asked: A = 100 × 1 / 1
    assert result.themes["a"].score == pytest.approx(100.0)
    assert result.themes["a"].asked == 1
    # B = (0 + skipped 0) / 2 = 0; overall = (100×1 + 0×2) / 3
    assert result.themes["b"].score == pytest.approx(0.0)
    assert result.overall == pytest.approx(100 / 3)
    assert result.red_flags == ["b1"]
    assert result.gaps == ["b2"]  # skipped counts as "don't know"
    assert "a3" not in sequence(mini, answers)


def test_checklist_is_capped_and_level_threshold(mini: Knowledge) -> None:
    answers = {
        "offering": "products",
        "a1": "yes",
        "a2": ["x", "y"],
        "a3": "yes",
        "b1": "yes",
        "b2": "partly",
    }
    result = score(mini, answers)
    assert result.themes["a"].score == pytest.approx(100.0)
    assert result.themes["b"].score == pytest.approx(75.0)
    assert result.overall == pytest.approx(87.5)
    assert result.level == "high"


def test_nothing_applies_gives_no_theme_score(mini: Knowledge) -> None:
    answers = {"offering": "services", "a1": "na", "a2": None, "b1": "na", "b2": "na"}
    result = score(mini, answers)
    assert result.themes["b"].score is None
    assert result.overall == pytest.approx(0.0)  # only A counts: skipped a2 scores 0


def test_best_tips_by_gain_times_ease(mini: Knowledge) -> None:
    answers = {
        "offering": "products",
        "a1": "partly",
        "a2": ["x"],
        "a3": "no",
        "b1": "yes",
        "b2": "yes",
    }
    # base: A = 25, B = 100, overall 62.5
    # t1 (a1 → yes): A = 41.67, overall 70.83, gain 8.33, ease 3 → rank 25.0, impact 1
    # t2 (a3 → yes): A = 75, overall 87.5, gain 25, ease 1 → rank 25.0, impact 2
    # t3 (a2 + y):   A = 33.33, overall 66.67, gain 4.17, ease 2 → rank 8.33
    ranked = best_tips(mini, answers)
    assert [r.tip.id for r in ranked] == ["t2", "t1", "t3"]
    assert [round(r.gain, 2) for r in ranked] == [25.0, 8.33, 4.17]


def test_tips_follow_answer_levels(mini: Knowledge) -> None:
    answers = {"offering": "services", "a1": "yes", "a2": ["z"], "b1": "yes", "b2": "dk"}
    ids = [r.tip.id for r in best_tips(mini, answers)]
    assert "t1" not in ids  # a1 already "yes"
    assert "t2" not in ids  # a3 does not apply to a service company
    assert "t3" in ids and "t4" in ids  # the missing checklist item; the "don't know" tip
    changed = with_tip(mini, mini.tips[2], answers)
    assert changed["a2"] == ["y"]  # ticking an item clears the exclusive "none"


def test_skipped_question_gets_the_dont_know_tip(mini: Knowledge) -> None:
    answers = {
        "offering": "products",
        "a1": "yes",
        "a2": ["x", "y"],
        "a3": "yes",
        "b1": "yes",
    }  # b2 skipped
    assert [r.tip.id for r in best_tips(mini, answers)] == ["t4"]


def test_real_questionnaire_tips_match_brute_force(kb: Knowledge) -> None:
    rng = random.Random(2026)
    for _ in range(25):
        answers: dict[str, object] = {}
        for qid in sequence(kb, {}):
            question = kb.questions[qid]
            options = [o.id for o in kb.options[qid]]
            if question.type == "multi":
                answers[qid] = rng.sample(options, rng.randint(0, 2))
            elif question.type == "single" and rng.random() > 0.1:
                answers[qid] = rng.choice(options)
        ranked = best_tips(kb, answers)
        base = score(kb, answers).overall
        assert len(ranked) <= 3
        assert len({r.tip.question for r in ranked}) == len(ranked)
        for r in ranked:
            assert r.gain == pytest.approx(score(kb, with_tip(kb, r.tip, answers)).overall - base)
        for r in ranked:  # a trade tip only for its trade, and it counts double
            assert r.own_trade == bool(r.tip.trades)
            assert not r.tip.trades or answers.get("industry") in r.tip.trades
        keys = [
            (round(r.gain * (4 - r.tip.effort) * (2 if r.tip.trades else 1), 6), r.tip.impact)
            for r in ranked
        ]
        assert keys == sorted(keys, reverse=True)
