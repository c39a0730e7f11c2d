"""The FAQ matcher and spoken Finnish: normalisation rules, the calibrated decision, and the
questions young people type answered at once in a conversation."""

from __future__ import annotations

import pytest

from bot.app import App
from dialogs.faq_confidence import shipped
from dialogs.faq_match import FaqMatcher, Match, also, decide, terms, unsure
from dialogs.faq_spoken import repairs, standard
from knowledge.loader import Knowledge

# ------------------------------------------------------------------ normalisation rules


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        # question clitics -ks, -kse, -kos on verbs
        ("saaks", "saako"),
        ("pitääks", "pitääkö"),
        ("onks", "onko"),
        ("voiks", "voiko"),
        ("voinks", "voinko"),
        ("onkse", "onko"),
        ("voikos", "voiko"),
        # -ks on a noun or adjective is the translative -ksi
        ("työttömäks", "työttömäksi"),
        ("englanniks", "englanniksi"),
        # pronouns and small words
        ("mä", "minä"),
        ("sä", "sinä"),
        ("mun", "minun"),
        ("sulle", "sinulle"),
        ("oikeen", "oikein"),
        ("vaa", "vaan"),
        ("mitää", "mitään"),
        ("siel", "siellä"),
        ("vielkää", "vieläkään"),
        ("meen", "menen"),  # mennä: spoken forms from the colloquial dev set
        ("täs", "tässä"),
        ("puol", "puoli"),
        # verbs and nouns
        ("tiiä", "tiedä"),
        ("tehä", "tehdä"),
        ("oon", "olen"),
        ("duuni", "työ"),
        ("ekana", "ensimmäisenä"),
        ("32v", "32"),  # an age
        # eastern and south-western forms, and slang
        ("mie", "minä"),
        ("misä", "missä"),
        ("mittää", "mitään"),
        ("himas", "kotona"),
        ("amis", "ammattikoulu"),
    ],
)
def test_spoken_finnish_is_written_out(spoken: str, written: str) -> None:
    assert standard(spoken, "fi") == written


def test_words_that_only_look_spoken_stay() -> None:
    assert standard("kaks", "fi") == "kaksi"  # a number, not a clitic
    assert standard("työpaja", "fi") == "työpaja"
    assert standard("saaks", "en") == "saaks"  # rules are per language
    assert standard("nåt", "sv") == "något" and standard("u", "en") == "you"


@pytest.mark.parametrize(
    ("clipped", "full"),
    [
        ("pajas", "pajassa"),  # -ssa
        ("pajal", "pajalla"),  # -lla
        ("töit", "töitä"),  # partitive -tä
        ("kukaa", "kukaan"),  # -n after a long vowel
        ("tukee", "tukea"),  # -ea sounds -ee
        ("soittanu", "soittanut"),  # participle -t
        ("töihi", "töihin"),  # illative -n
        ("johonki", "johonkin"),
        ("ilmotan", "ilmoitan"),  # the i of a diphthong
        ("millasia", "millaisia"),
        ("ilmanen", "ilmainen"),
        ("kattoo", "katsoo"),  # spoken -tt- for -ts-
        ("kattomas", "katsomassa"),  # …with a clipped end
        ("paikkoi", "paikkoja"),  # plural partitive -ja
        ("korttei", "kortteja"),
        ("mukan", "mukana"),  # a final vowel after -n
    ],
)
def test_clipped_words_have_their_full_form_among_the_repairs(clipped: str, full: str) -> None:
    assert full in repairs(clipped)


def test_a_repair_is_taken_only_when_the_faq_knows_the_word(matcher: FaqMatcher) -> None:
    known = matcher.indexes["fi"].idf
    # "pajas" becomes the workshop concept through "pajassa"; "mies" has no known repair
    assert "@workshop" in terms("onks pajas duunia", "fi", matcher.concepts, known)
    assert terms("mies", "fi", matcher.concepts, known) == terms("mies", "fi", matcher.concepts)


@pytest.mark.parametrize(
    ("compound", "parts"),
    [
        ("kiertokartoitus", "kierto-kartoitus"),  # kierto + @assessment, not just kierto
        ("pajajutuista", "paja jutuista"),
    ],
)
def test_a_compound_the_faq_does_not_know_is_read_as_its_known_parts(
    matcher: FaqMatcher, compound: str, parts: str
) -> None:
    known = matcher.indexes["fi"].idf
    split = terms(compound, "fi", matcher.concepts, known)
    assert len(split) == 2
    assert split == terms(parts, "fi", matcher.concepts, known)
    assert matcher.match("mikä on kiertokartoitus", "fi")[0].entry_id == "kartoitus"


def test_known_words_and_unknown_parts_are_not_split(matcher: FaqMatcher) -> None:
    known = matcher.indexes["fi"].idf
    # a word the FAQ knows stays whole; a compound with a part it does not know stays whole
    assert terms("palkkatuki", "fi", matcher.concepts, known) == ["@pay_subsidy"]
    assert len(terms("kuukausilippu", "fi", matcher.concepts, known)) == 1


def test_a_match_tells_how_much_of_a_phrasing_the_question_holds(matcher: FaqMatcher) -> None:
    short = matcher.match("saako työpajassa palkkaa", "fi")[0]
    long = matcher.match(
        "moi, oon 22 ja mietin menisinkö pajalle, mutta saako työpajassa palkkaa vai ei", "fi"
    )[0]
    assert short.entry_id == long.entry_id == "tyopaja_pay"
    assert long.precision == pytest.approx(short.precision)  # the phrasing is whole in both…
    assert long.score < short.score  # …though the context dilutes the score
    assert long.length > short.length >= 2
    assert 0.0 <= long.heaviest <= 1.0


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("saaks siit mitää rahaa", "saako siitä mitään rahaa"),
        ("pitääks mun tuoda jotain mukana", "pitääkö minun tuoda jotain mukana"),
        ("voiks siel olla vaa puol päivää", "voiko siellä olla vaan puoli päivää"),
    ],
)
def test_spoken_and_written_questions_mean_the_same(
    matcher: FaqMatcher, spoken: str, written: str
) -> None:
    known = matcher.indexes["fi"].idf
    assert terms(spoken, "fi", matcher.concepts, known) == terms(
        written, "fi", matcher.concepts, known
    )


# ------------------------------------------------------------------ decisions


def test_decisions_use_the_users_language() -> None:
    assert decide([], "fi") == "unknown"
    # both models agree: the words' best is clear, the character n-grams' too
    sure = [Match("a", 0.95, similarity=0.6, rival=0.2), Match("b", 0.5)]
    assert decide(sure, "fi") == decide(sure, "en") == decide(sure, "sv") == "answer"
    # too close to call: the runner-up nearly as good, and the n-grams prefer another entry
    close = [Match("a", 0.95, similarity=0.35, rival=0.4), Match("b", 0.9)]
    assert decide(close, "fi") == "suggest"
    tie = [Match("a", 0.9, similarity=0.6, rival=0.2), Match("b", 0.9)]
    assert decide(tie, "fi") == "suggest"  # a tie is never answered at once
    floor = shipped().coverage - 0.05
    partial = [Match("a", 0.95, coverage=floor, similarity=0.6, rival=0.2), Match("b", 0.2)]
    assert decide(partial, "fi") == "suggest"  # most of the question is not explained
    unsure_ngrams = [Match("a", 0.95, similarity=0.1, rival=0.5), Match("b", 0.5)]
    assert decide(unsure_ngrams, "fi") == "suggest"  # the second opinion points elsewhere
    assert decide([Match("a", 0.2)], "sv") == "unknown"  # under the matcher's own floor
    assert decide(sure, "de") == decide(sure, "fi")  # another language: the Finnish limits
    for lang in ("fi", "en", "sv"):
        assert 0.3 <= unsure(lang) < 0.95 and unsure(lang) == shipped().unsure[lang]


def test_a_near_neighbour_runner_up_is_offered_next_to_the_answer() -> None:
    pair = sorted(next(iter(shipped().neighbours)))
    assert also([Match(pair[0], 0.95), Match(pair[1], 0.8)], "fi") == pair[1]
    assert also([Match(pair[0], 0.95), Match("nobody", 0.8)], "fi") is None
    assert also([Match(pair[0], 0.95), Match(pair[1], 0.1)], "fi") is None  # too weak
    assert also([Match(pair[0], 0.95)], "fi") is None


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("saaks siit mitää rahaa", "tyopaja_pay"),
        ("pitääks mun tuoda jotain mukana", "what_to_bring"),
        ("voiks siel olla vaa puol päivää", "part_time"),
        ("tarviiks hygieniapassii", "cards_needed"),
        ("missä pajat on", "where"),
        ("voinks tulla kattomaan pajaa etukäteen", "visit_first"),
    ],
)
def test_young_peoples_questions_are_answered_at_once(
    matcher: FaqMatcher, text: str, entry: str
) -> None:
    matches = matcher.match(text, "fi")
    assert matches[0].entry_id == entry
    assert decide(matches, "fi") == "answer"


def test_off_topic_questions_sharing_a_word_are_not_answered(matcher: FaqMatcher) -> None:
    assert decide(matcher.match("paljonko maksaa bussilippu nysseen", "fi"), "fi") != "answer"
    assert decide(matcher.match("mikä on suomen pääkaupunki", "fi"), "fi") != "answer"


# ------------------------------------------------------------------ in a conversation


async def test_the_three_example_questions_get_their_answers(chat, kb: Knowledge) -> None:
    me = chat(lang="fi")
    await me.send("/start")
    for question, entry_id in [
        ("saaks siit mitää rahaa", "tyopaja_pay"),
        ("pitääks mun tuoda jotain mukana", "what_to_bring"),
        ("voiks siel olla vaa puol päivää", "part_time"),
    ]:
        await me.send(question)
        entry = next(e for e in kb.faq if e.id == entry_id)
        assert "💡" in me.said
        assert entry.questions.fi[0] in me.said  # the heading: a real question
        assert "Tarkoititko" not in me.said  # answered, not "did you mean"


async def test_a_message_without_letters_is_not_kept_as_a_question(app: App, chat) -> None:
    me = chat(lang="fi")
    await me.send("/start")
    for text in ("👍", "🙂🙂🙂", "???", "123"):
        await me.send(text)
        assert me.said  # the user still gets a friendly reply
    async with app.db.unit() as repo:
        assert await repo.misses.recent() == []
    await me.send("kuka voitti jalkapallon mm-kisat 1966")
    async with app.db.unit() as repo:
        assert len(await repo.misses.recent()) == 1  # a real question is kept


async def test_an_answer_offers_its_near_neighbour_as_a_button(chat, kb: Knowledge) -> None:
    me = chat(lang="fi")
    await me.send("/start")
    await me.send("mitä tietoja minusta tallennetaan")
    privacy = next(e for e in kb.faq if e.id == "privacy")
    assert privacy.questions.fi[0] in me.said  # answered at once…
    assert "faq:mydata" in me.last.payloads  # …with "my data" one press away
    await me.press("faq:mydata")
    mydata = next(e for e in kb.faq if e.id == "mydata")
    assert mydata.questions.fi[0] in me.said


async def test_a_button_of_a_merged_entry_opens_the_entry_it_was_merged_into(
    chat, kb: Knowledge
) -> None:
    """ "Can I become a KIERTO agent" (p_agentti) was merged into agentti_employer: a
    "did you mean" button sent before the merge still answers."""
    me = chat(lang="en")
    await me.send("/start")
    await me.press("faq:p_agentti")
    agent = next(e for e in kb.faq if e.id == "agentti_employer")
    assert "p_agentti" in agent.formerly and agent.questions.en[0] in me.said
    await me.press("faq:p_nextiili_col")
    assert "Nextiili's materials collection service" in me.said


def test_the_typo_search_by_length_finds_what_the_whole_list_finds(matcher: FaqMatcher) -> None:
    from rapidfuzz import fuzz, process

    from dialogs.faq_match import FUZZY_WORD, Lengths

    vocabulary = matcher.indexes["fi"].words
    lengths = Lengths(vocabulary, FUZZY_WORD)
    # typos of the FAQ's own words (a letter dropped, one doubled) and non-words
    words = [w for w in vocabulary if len(w) >= 6][:40]
    typos = [w[:3] + w[4:] for w in words] + [w[:3] + w[3] + w[3:] for w in words]
    found = 0
    for typo in [*typos, "xyz", "a"]:
        whole = process.extract(
            typo, vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_WORD, limit=5
        )
        near = process.extract(
            typo, lengths.near(len(typo)), scorer=fuzz.ratio, score_cutoff=FUZZY_WORD, limit=5
        )
        assert [(w, s) for w, s, _ in near] == [(w, s) for w, s, _ in whole]
        found += bool(whole)
    assert found >= len(typos) // 2  # the typos do find words
    assert len(lengths.near(6)) < len(vocabulary)  # and it does leave words out
