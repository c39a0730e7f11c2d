"""The FAQ's second opinion: character n-gram TF-IDF, centroids and nearest phrasings."""

from __future__ import annotations

import pytest

from dialogs.faq_confidence import Calibration, shipped
from dialogs.faq_match import FaqMatcher, Match, words
from dialogs.faq_ngrams import NgramModel, ngrams, normalise


def model() -> NgramModel:
    phrasings = [
        ("pay", "saako työpajassa palkkaa"),
        ("pay", "paljonko pajassa maksetaan"),
        ("where", "missä työpajat ovat"),
        ("where", "mikä on pajan osoite"),
        ("bot", "oletko botti vai ihminen"),
    ]
    return NgramModel((e, "fi", normalise(words(t), "fi")) for e, t in phrasings)


def test_ngrams_stay_inside_words_padded_with_spaces() -> None:
    counts = ngrams(["paja"])
    assert counts[" p"] == 1 and counts["ja "] == 1 and counts[" paja"] == 1
    assert counts["paja "] == 1 and " paja " not in counts  # at most five characters
    assert not any(" " in g.strip() for g in ngrams(["a", "b"]))  # never across words


def test_spoken_forms_are_written_out_and_folded_to_ascii() -> None:
    assert normalise(["saaks", "mä", "työpajas"], "fi") == ["saako", "mina", "tyopajas"]


def test_a_question_is_closest_to_the_entry_that_shares_its_characters() -> None:
    similar = model().similarities(normalise(words("saaks pajassa palkkaa"), "fi"))
    best = max(similar, key=lambda e: similar[e][0])
    assert best == "pay"
    centroid, nearest = similar["pay"]
    assert 0 < centroid <= 1 and 0 < nearest <= 1
    # an entry with one phrasing: its centroid is that phrasing
    bot = model().similarities(normalise(words("oletko botti vai ihminen"), "fi"))["bot"]
    assert bot[0] == pytest.approx(1.0, abs=1e-5) and bot[1] == pytest.approx(bot[0])


def test_nothing_in_common_gives_no_similarity() -> None:
    assert model().similarities(["xqzw"]) == {}
    assert model().similarities([]) == {}


def test_phrasings_must_come_grouped_by_entry() -> None:
    with pytest.raises(ValueError):
        NgramModel([("a", "fi", ["x"]), ("b", "fi", ["y"]), ("a", "fi", ["z"])])


def test_matches_carry_the_second_opinion(matcher: FaqMatcher) -> None:
    best, *others = matcher.match("mikä on palkkatuki", "fi")
    assert best.entry_id == "palkkatuki"
    assert best.similarity > best.rival  # the n-gram model agrees
    assert best.nearest > best.nearest_rival
    assert all(m.rival == best.similarity for m in others)  # their rival is the best
    assert best.unknown == 0.0
    strange = matcher.match("paljonko maksaa bussilippu nysseen", "fi")
    assert strange[0].unknown > 0  # "bussilippu", "nysse": words no phrasing uses


def test_an_entry_put_first_by_the_ngram_model_is_never_answered_at_once() -> None:
    cal: Calibration = shipped()
    swapped = [
        Match("a", 0.7, similarity=0.9, rival=0.1, nearest=0.9, nearest_rival=0.1),
        Match("b", 0.8),
    ]
    assert not cal.answerable(swapped)
    assert cal.probability(swapped, "fi") == 0.0
