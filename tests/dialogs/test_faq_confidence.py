"""The FAQ's answer-at-once model: fitting, the threshold choice and the shipped data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialogs import faq_confidence as fc
from dialogs.faq_match import FaqMatcher, Match, decide


def test_solve_gives_the_solution_of_a_small_system() -> None:
    x = fc.solve([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]], [1.0, 2.0, 3.0])
    for row, b in zip([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]], [1, 2, 3], strict=True):
        assert fc.dot(row, x) == pytest.approx(b)


def test_fit_recovers_the_direction_of_a_known_model() -> None:
    rng = random.Random(3)
    rows, labels = [], []
    for _ in range(600):
        x = [1.0, rng.random(), rng.random()]
        p = fc.sigmoid(-3 + 6 * x[1] - 0 * x[2])
        rows.append(x)
        labels.append(int(rng.random() < p))
    w = fc.fit(rows, labels, l2=0.01)
    assert 4 < w[1] < 8  # the feature that matters gets about its true weight
    assert abs(w[2]) < 1.0  # the one that does not stays near zero
    assert -4.5 < w[0] < -1.5


def test_the_penalty_shrinks_weights() -> None:
    rows = [[1.0, x / 10] for x in range(11)]
    labels = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1]
    assert abs(fc.fit(rows, labels, 10.0)[1]) < abs(fc.fit(rows, labels, 0.1)[1])


def test_threshold_keeps_wrong_answers_within_the_allowance() -> None:
    probabilities = [[0.99], [0.95], [0.9], [0.8], [0.7], [0.6]]
    outcomes = ["right", "wrong", "right", "right", "wrong", "right"]
    # no wrong answer allowed: only what scores above the best wrong one
    assert fc.choose_threshold(probabilities, outcomes, total=100, max_wrong=0.0) > 0.95
    # one allowed in 100: down to just above the second wrong one
    t = fc.choose_threshold(probabilities, outcomes, total=100, max_wrong=0.01)
    assert 0.7 < t <= 0.8


def test_out_of_fold_never_scores_a_row_with_a_model_that_saw_it() -> None:
    # one row contradicts its own (unique) feature: fitted on itself it would score high
    rows = [[1.0, 0.0]] * 20 + [[1.0, 1.0]]
    labels = [0] * 20 + [1]
    oof = fc.out_of_fold(rows, labels, folds=3, repeats=2)
    assert all(len(ps) == 2 for ps in oof)
    assert max(oof[-1]) < 0.5  # without itself, nothing says feature 1 means right


def test_the_guard_raises_the_threshold_only_for_a_set_over_the_cap() -> None:
    probabilities = [0.99, 0.95, 0.9, 0.92, 0.85, 0.97]
    outcomes = ["right", "wrong", "wrong", "right", "wrong", "right"]
    groups = ["a", "a", "a", "b", "b", "b"]
    sizes = {"a": 100, "b": 100}
    # one wrong in 100 allowed per set: set a has two at 0.9, so the threshold rises above
    # its less sure one (0.9) and no further; set b's wrong one (0.85) is under it anyway
    t = fc.guard_threshold(0.8, probabilities, outcomes, groups, sizes, cap=0.01)
    assert 0.9 < t <= 0.95
    assert fc.guard_threshold(0.8, probabilities, outcomes, groups, sizes, cap=0.05) == 0.8


@dataclass(frozen=True)
class _M:
    entry_id: str
    score: float
    coverage: float = 1.0


def test_neighbours_are_the_entries_the_faqs_own_phrasings_confuse() -> None:
    ranked = {
        "my data": [_M("mydata", 1.0), _M("privacy", 0.9)],
        "privacy": [_M("privacy", 1.0), _M("mydata", 0.85)],
        "pay": [_M("pay", 1.0), _M("privacy", 0.3)],
    }
    phrasings = [("mydata", "en", "my data"), ("privacy", "en", "privacy"), ("pay", "en", "pay")]
    pairs = fc.find_neighbours(phrasings, lambda text, lang: ranked[text])
    assert pairs == {frozenset({"mydata", "privacy"})}


def test_calibration_round_trips_as_data(tmp_path: Path) -> None:
    cal = fc.Calibration(
        tuple(float(i) for i in range(len(fc.FEATURES))),
        0.9,
        {"fi": 0.45, "en": 0.4, "sv": 0.4},
        frozenset({frozenset({"a", "b"})}),
        0.6,
    )
    path = tmp_path / "cal.yaml"
    fc.save(cal, "# test\n", path)
    import yaml

    assert fc.Calibration.from_data(yaml.safe_load(path.read_text())) == cal


def test_a_missing_runner_up_counts_as_one_just_under_the_matchers_floor() -> None:
    from dialogs.faq_match import FLOOR

    assert fc.ABSENT == FLOOR
    cal = fc.shipped()
    assert cal.features([Match("a", 0.5)], "fi") == cal.features(
        [Match("a", 0.5), Match("b", 0.2)], "fi"
    )


def test_the_shipped_model_is_sensible() -> None:
    cal = fc.shipped()
    weights = dict(zip(fc.FEATURES, cal.weights, strict=True))
    assert weights["score"] > 0 and weights["margin"] > 0  # surer with a higher, clearer best
    assert 0.5 < cal.threshold < 1.0
    assert 0.0 < cal.coverage <= 1.0
    assert frozenset({"mydata", "privacy"}) in cal.neighbours
    sure = [Match("a", 0.95), Match("b", 0.3)]
    assert cal.probability(sure, "fi") > cal.probability([Match("a", 0.7), Match("b", 0.6)], "fi")
    under = cal.coverage - 0.05
    assert cal.probability([Match("a", 0.95, coverage=under)], "fi") == 0.0  # under the floor
    # the n-gram model agreeing, and leading its rival clearly, makes the bot surer; words
    # the FAQ does not know at all make it less sure
    agrees = [Match("a", 0.7, 0.8, similarity=0.6, rival=0.2), Match("b", 0.5)]
    disagrees = [Match("a", 0.7, 0.8, similarity=0.2, rival=0.6), Match("b", 0.5)]
    strange = [Match("a", 0.7, 0.8, similarity=0.6, rival=0.2, unknown=0.5), Match("b", 0.5)]
    assert cal.probability(agrees, "fi") > cal.probability(disagrees, "fi")
    assert cal.probability(agrees, "fi") > cal.probability(strange, "fi")
    # a question holding a whole phrasing of the entry, and meeting its rarest word, is surer
    whole = [Match("a", 0.6, 0.5, similarity=0.5, rival=0.3, precision=1.0), Match("b", 0.4)]
    part = [Match("a", 0.6, 0.5, similarity=0.5, rival=0.3, precision=0.5), Match("b", 0.4)]
    assert cal.probability(whole, "fi") > cal.probability(part, "fi")
    missed = [Match("a", 0.6, 0.5, similarity=0.5, rival=0.3, heaviest=0.0), Match("b", 0.4)]
    assert cal.probability(whole, "fi") > cal.probability(missed, "fi")


def test_decide_follows_the_models_probability(matcher: FaqMatcher) -> None:
    cal = fc.shipped()
    for text, lang in [
        ("mikä on palkkatuki", "fi"),
        ("workshop", "en"),
        ("hej", "sv"),
        ("moi, mun ohjaaja ehdotti et menisin jollekin pajalle, mitä siellä tehdään", "fi"),
    ]:
        matches = matcher.match(text, lang)
        if matches and cal.probability(matches, lang) >= cal.threshold:
            # even under the "did you mean" score: a long message's context dilutes it
            assert decide(matches, lang) == "answer"
        elif not matches or matches[0].score < cal.unsure[lang]:
            assert decide(matches, lang) == "unknown"
        else:
            assert decide(matches, lang) == "suggest"


def test_a_long_message_holding_a_clear_question_is_answered(matcher: FaqMatcher) -> None:
    text = "mietin pajalle menemistä mutta tarviin rahaa. saako työpajassa palkkaa?"
    matches = matcher.match(text, "fi")
    assert matches[0].entry_id == "tyopaja_pay"
    assert decide(matches, "fi") == "answer"
