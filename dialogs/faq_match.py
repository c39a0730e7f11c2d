"""Free-text questions to FAQ entries: tolerant of Finnish inflection, typos and language.

How a question is scored against the FAQ:

1. Words. Text is case-folded and stripped of markup and punctuation. Each word is reduced
   to its Snowball stem in the language being tried and folded to ASCII (ä→a, ö→o, å→a),
   so "tyopajaan" meets "työpajassa". Pure function words (ja, the, och…) are dropped;
   question words stay, because "who" and "what" tell entries apart.
2. Concepts. Words and phrases listed together in knowledge/synonyms.yaml become one
   language-independent concept ("lönestöd", "palkkatuella", "wage subsidy" → @pay_subsidy),
   matched on the stem, on a stem that starts with a listed one (compounds), or with a
   small typo.
3. Similarity. Other words match a phrasing's word when equal (1), when one starts the
   other (compounds, 0.9) or, for typos, by rapidfuzz similarity of at least 80 % (0..1).
4. Weights. A word counts by its rarity across entries (IDF), so a rare word decides more
   than a common one. Against each phrasing the score is an F-measure leaning on precision
   (how much of the phrasing the question covers) over recall (how much of the question is
   covered), so a greeting or some context around a question does not drown it; it is
   blended with how much of the question the entry as a whole (all its phrasings) covers.

An entry scores its best over the three languages (the user's own is preferred a little),
so a Swede writing Finnish is still understood; the answer comes in the user's language.

5. A second opinion. A model that knows no words (faq_ngrams: character n-grams of the
   phrasings, a centroid per entry and language, and the nearest phrasing) says how close
   the question is to each ranked entry and to its best rival. The answer-at-once model
   (faq_confidence) reads both opinions; when the two best word scores are within SWAP and
   the n-grams prefer the runner-up, it goes first, to be offered rather than answered.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import snowballstemmer
from rapidfuzz import fuzz, process

from dialogs import faq_confidence as confidence
from dialogs import faq_spoken as spoken
from dialogs.faq_ngrams import NgramModel, normalise
from knowledge.schema import Concept, FaqEntry

LANGS = ("fi", "en", "sv")
_STEMMERS = {
    lang: snowballstemmer.stemmer(name)
    for lang, name in (("fi", "finnish"), ("en", "english"), ("sv", "swedish"))
}

# Function words only: they say nothing about what is asked.
STOP_WORDS = {
    "fi": set(
        """
        on onko ole olla oon olen olenko olet oletko oot olisi ois ovat oli olis ollut olisin
        olisinko olisiko olisko oisko oisin ja tai mutta että jos kun kuin
        niin myös vielä jo sitten se sen sitä ne niitä niiden tämä tää tätä tässä siinä
        siitä sinne tuo toi tota minä mä mää mun mulla mulle minun minulla minulle minua sinä
        sä sun sulla sulle sinun sinulla me meillä meidän te teillä teidän he heillä ei en et
        ku jne esim eli vaan kyllä joo no hei moi moikka terve kiitos kiitti siis ihan aika
        tosi vähän jotain joku jokin johonkin mitään mut ni nii jotta koska oikein oikeen
        sinne tänne täällä siellä kans kanssa jossain johonkin yhtään minua sinua minusta
        sinusta ihmeen
        moro morjens heippa jou okei ok okay jees jep juu xd lol sori sorry pliis pls plz
        tota öö hmm noh emmä emmää enkä edes ees jotenkin jotenki kuitenkin kuitenki
        oikeastaan oikeestaan vaikka vaik
    """.split()
    ),
    "en": set(
        """
        is are was were be been am do does did doing i me my mine you your yours we our us
        they them their he she it its this that these those there here a an the and or but if
        then so than too also very just of to in on at for from with by as into out up any some
        would could should will shall may might must has had have did does
        please im i'm hi hello hey thanks thank pls plz really
    """.split()
    ),
    "sv": set(
        """
        är var vara varit blir bli jag mig min mitt mina du dig din ditt dina vi oss vår vårt
        våra ni er ert era de dem deras han hon den det denna detta dessa där här en ett och
        eller men om så än också mycket bara av till i på för från med som ut upp någon något
        några hej tack sig sin sitt sina
    """.split()
    ),
}

WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)  # hyphens split compounds
FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u"})
FUZZY_WORD = 80.0  # rapidfuzz ratio that makes a typo count as the same word
FUZZY_CONCEPT = 86.0  # …and as a concept term (stricter: concepts weigh a lot)
PREFIX_MIN = 5  # a stem this long may match a longer word it starts (compounds)
BETA = 0.5  # F-beta: precision counts four times recall
ENTRY_BLEND = 0.35  # share of the score from the entry as a whole; 0.1-0.5 tried by dev CV
OTHER_LANG = 0.95  # phrasings in another language than the user's score a little less
MAX_TERMS = 60  # longer questions are matched on their first 60 meaningful words
# When the runner-up's word score is within this of the best's and the n-gram model
# (faq_ngrams: centroid plus nearest phrasing) likes it better, it goes first. Such a pair is
# never answered at once (its margin is negative, see faq_confidence.Calibration.answerable):
# it only puts the likelier entry first among "did you mean". Chosen on the dev sets.
SWAP = 0.15
# Entries that cannot reach this score are not scored at all: below it an entry is neither
# answered nor suggested, and cannot narrow the margin of a confident answer either.
FLOOR = 0.3


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"<[^>]{0,100}>", " ", text)  # markup is not content
    return WORD_RE.findall(text)


@lru_cache(maxsize=8192)
def stem(lang: str, word: str) -> str:
    return _STEMMERS[lang].stemWord(word).translate(FOLD)


class Lengths:
    """Strings that rapidfuzz's `ratio` could find `cutoff` % similar to a word of a given
    length, in their original order (so ties are broken as over the whole list). The ratio
    is 2 * matches / (len a + len b), at most 2 * min / (len a + len b): lengths far apart
    cannot reach the cutoff, and the typo search need not try them."""

    def __init__(self, strings: list[str], cutoff: float) -> None:
        self.strings = strings
        self.cutoff = cutoff / 100.0
        self.by_length: dict[int, list[str]] = {}

    def near(self, length: int) -> list[str]:
        found = self.by_length.get(length)
        if found is None:
            c = self.cutoff
            found = [
                s for s in self.strings if 2 * min(len(s), length) >= c * (len(s) + length) - 1e-9
            ]
            self.by_length[length] = found
        return found

    def __bool__(self) -> bool:
        return bool(self.strings)


class Concepts:
    """The synonym table: stems and stem sequences that stand for one concept."""

    def __init__(self, concepts: Iterable[Concept] = ()) -> None:
        self.single: dict[str, str] = {}
        self.multi: dict[tuple[str, ...], str] = {}
        for concept in concepts:
            for lang in LANGS:
                for term in concept.get(lang):
                    parts = tuple(stem(lang, w) for w in words(term))
                    if len(parts) == 1:
                        self.single[parts[0]] = concept.id
                        self.single.setdefault(words(term)[0].translate(FOLD), concept.id)
                    elif parts:
                        self.multi[parts] = concept.id
        self.keys = Lengths(list(self.single), FUZZY_CONCEPT)
        self.longest = max((len(k) for k in self.multi), default=1)

    def word(self, stemmed: str, raw: str) -> str | None:
        for key in (stemmed, raw):
            if key in self.single:
                return self.single[key]
        if len(stemmed) >= 6 and self.keys:  # a typo of a listed word
            best = process.extractOne(
                stemmed, self.keys.near(len(stemmed)), scorer=fuzz.ratio, score_cutoff=FUZZY_CONCEPT
            )
            if best is not None:
                return self.single[best[0]]
        for cut in range(len(stemmed) - 1, PREFIX_MIN - 1, -1):  # compounds: palkkatukityö
            if stemmed[:cut] in self.single:
                return self.single[stemmed[:cut]]
        return None


def terms(
    text: str,
    lang: str,
    concepts: Concepts | None = None,
    known: Container[str] | None = None,
    units: dict[str, tuple[str, str | None]] | None = None,
) -> list[str]:
    """The meaningful units of a text, in order and without repeats: `@concept` or a stem.

    Spoken and chat forms are written out first (faq_spoken.standard). With `known` (the
    stems the FAQ uses), a Finnish word it does not know may be a clipped spoken form:
    the first repair (faq_spoken.repairs) that gives a stop word, a concept or a known
    stem is taken instead ("pajas" -> pajassa, "puol" -> puoli, "mitää" -> mitään).
    `units`: the same work done beforehand for the words the FAQ itself uses (see
    `_LangIndex.units`): word -> (its stem, its unit), for exactly the same `concepts` and
    `known`.
    """
    raw = [spoken.standard(w, lang) for w in words(text)]
    if units is None:
        units = {}
    found = [units.get(w) for w in raw]
    stems = [f[0] if f is not None else stem(lang, w) for f, w in zip(found, raw, strict=True)]
    out: list[str] = []
    i = 0
    while i < len(raw) and len(out) < MAX_TERMS:
        unit: str | None = None
        step = 1
        if concepts is not None:
            for n in range(min(concepts.longest, len(raw) - i), 1, -1):
                concept = concepts.multi.get(tuple(stems[i : i + n]))
                if concept is not None:
                    unit, step = "@" + concept, n
                    break
        parts: list[str | None] = []
        if unit is None:
            f = found[i]
            unit = f[1] if f is not None else _unit(raw[i], stems[i], lang, concepts, known)
            if f is None and unit and known is not None and lang == "fi":
                parts = _compound(raw[i], unit, concepts, known) or []
        for u in parts or [unit]:
            if u and u not in out:
                out.append(u)
        i += step
    return out


COMPOUND_HEAD = 4  # a compound's first part is this long at least…
COMPOUND_TAIL = 4  # …and its last part too ("kiertokartoitus": kierto + kartoitus)


def _compound(
    word: str, unit: str, concepts: Concepts | None, known: Container[str]
) -> list[str] | None:
    """A Finnish compound the FAQ does not know as a whole, as its two known parts
    ("kiertokartoitus" -> kierto, @assessment; "pajajutuista" -> paja, jutu), or None. Only
    for a word whose unit is neither a known stem nor a concept: the longest known head whose
    tail is known too wins."""
    if unit.startswith("@") or unit in known:
        return None
    folded = word.translate(FOLD)
    for cut in range(len(folded) - COMPOUND_TAIL, COMPOUND_HEAD - 1, -1):
        head, tail = folded[:cut], folded[cut:].lstrip("-")
        if len(tail) < COMPOUND_TAIL:
            continue
        head_unit = _part(head, concepts, known)
        if head_unit is None:
            continue
        tail_unit = _part(tail, concepts, known)
        if tail_unit is not None:
            return [head_unit, tail_unit] if head_unit != tail_unit else [head_unit]
    return None


def _part(word: str, concepts: Concepts | None, known: Container[str]) -> str | None:
    """One part of a compound as a unit, when the FAQ knows it (as a stem or a concept)."""
    stemmed = stem("fi", word)
    if concepts is not None:
        for key in (stemmed, word):
            if key in concepts.single:
                return "@" + concepts.single[key]
    for key in (stemmed, word):
        if key in known and key not in STOP_WORDS["fi"]:
            return key
    return None


def _unit(
    word: str, stemmed: str, lang: str, concepts: Concepts | None, known: Container[str] | None
) -> str | None:
    """One word as a term: None for a function word, else `@concept` or its stem."""
    stop = STOP_WORDS[lang]
    if word in stop or word.translate(FOLD) in stop or (len(word) == 1 and not word.isdigit()):
        return None
    concept = concepts.word(stemmed, word.translate(FOLD)) if concepts else None
    if concept:
        return "@" + concept
    if known is None or stemmed in known:
        return stemmed
    if word.isdigit():  # a number the FAQ never uses ("oon 23") says nothing
        return None
    if lang != "fi":
        return stemmed
    for guess in spoken.repairs(word):
        if guess in stop:
            return None
        guess_stem = stem(lang, guess)
        concept = concepts.single.get(guess_stem) if concepts else None
        if concept:
            return "@" + concept
        if guess_stem in known:
            return guess_stem
    return stemmed


@dataclass(frozen=True)
class Match:
    entry_id: str
    score: float  # 0..1
    coverage: float = 1.0  # the share of the question's weight the entry explains, 0..1
    # The second opinion (faq_ngrams): the question's character n-gram similarity to this
    # entry, and the best similarity to any other entry (below `similarity`: the n-gram
    # model agrees that this entry is the best), both 0..1.
    similarity: float = 0.0
    rival: float = 0.0
    # …and the same against single phrasings: this entry's nearest, any other entry's
    nearest: float = 0.0
    nearest_rival: float = 0.0
    # The share of the question's words the FAQ does not know at all (in the language that
    # knows most of them), 0..1: the same for every match of one question.
    unknown: float = 0.0
    # The best share of one of the entry's phrasings that the question covers (1: the
    # question holds a whole phrasing, however much else it says), how well the entry meets
    # the question's heaviest (rarest) term, 0..1, and the question's number of terms.
    precision: float = 1.0
    heaviest: float = 1.0
    length: int = 1


@dataclass(frozen=True)
class _Phrasing:
    entry_id: str
    terms: frozenset[str]
    weight: float


class _LangIndex:
    """Every phrasing in one language, with an inverted index from term to phrasings."""

    def __init__(self, lang: str, phrasings: list[tuple[str, list[str]]], n_entries: int) -> None:
        self.lang = lang
        holders: dict[str, set[str]] = defaultdict(set)
        for entry_id, ts in phrasings:
            for t in ts:
                holders[t].add(entry_id)
        self.idf = {t: math.log((n_entries + 1) / (len(ids) + 0.5)) for t, ids in holders.items()}
        # A word no phrasing uses weighs as much as a word only one entry uses: in "paljonko
        # maksaa bussilippu" the unknown word is what the question is about, and an entry
        # that covers only "paljonko maksaa" must not look like a full answer.
        self.unknown = math.log((n_entries + 1) / 1.5)
        self.words = [t for t in self.idf if not t.startswith("@")]
        self.by_length = Lengths(self.words, FUZZY_WORD)
        self.by_prefix: dict[str, list[str]] = defaultdict(list)
        for t in self.words:
            for cut in range(PREFIX_MIN, len(t)):
                self.by_prefix[t[:cut]].append(t)
        self.phrasings = [
            _Phrasing(
                e,
                frozenset(ts),
                sum(self.idf[t] for t in sorted(set(ts))),  # sorted: the same sum every run
            )
            for e, ts in phrasings
            if ts
        ]
        # the same for numpy: each term's phrasings, each phrasing's weight, and where each
        # entry's run of phrasings starts (phrasings come grouped by entry)
        at: dict[str, list[int]] = defaultdict(list)
        for p, phrasing in enumerate(self.phrasings):
            for t in phrasing.terms:
                at[t].append(p)
        self.postings = {t: np.array(ps, dtype=np.intp) for t, ps in at.items()}
        self.phrasing_weight = (
            np.array([p.weight for p in self.phrasings]) if self.phrasings else np.ones(0)
        )
        self.entry_order: list[str] = []
        starts: list[int] = []
        for p, phrasing in enumerate(self.phrasings):
            if not self.entry_order or self.entry_order[-1] != phrasing.entry_id:
                if phrasing.entry_id in self.entry_order:
                    raise ValueError("phrasings must come grouped by entry")
                self.entry_order.append(phrasing.entry_id)
                starts.append(p)
        self.entry_starts = np.array(starts, dtype=np.intp)
        self.units: dict[str, tuple[str, str | None]] = {}
        self.near: dict[str, dict[str, float]] = {}

    def prepare(self, concepts: Concepts, vocabulary: Iterable[str]) -> None:
        """Work done once instead of for every question: each of `vocabulary`'s words (the
        FAQ's own, spoken forms written out) as a term of this language (see `terms`), and
        the index terms close to each index term. Questions use mostly these words; others
        are worked out when they come."""
        self.units = {
            w: (s, _unit(w, s, self.lang, concepts, self.idf))
            for w in vocabulary
            for s in (stem(self.lang, w),)
        }
        self.near = {t: self._similar(t) for t in self.idf}

    def similar(self, term: str) -> dict[str, float]:
        """Index terms close to a question term, with their similarity 0..1."""
        found = self.near.get(term)
        return dict(found) if found is not None else self._similar(term)

    def _similar(self, term: str) -> dict[str, float]:
        found: dict[str, float] = {}
        if term in self.idf:
            found[term] = 1.0
        if term.startswith("@"):
            return found
        if len(term) >= PREFIX_MIN:
            for longer in self.by_prefix.get(term, ()):
                found.setdefault(longer, 0.9)
            for cut in range(PREFIX_MIN, len(term)):
                if term[:cut] in self.idf:
                    found.setdefault(term[:cut], 0.9)
        if len(term) >= 4 and term not in self.idf:  # a known word is no typo
            for candidate, ratio, _ in process.extract(
                term,
                self.by_length.near(len(term)),
                scorer=fuzz.ratio,
                score_cutoff=FUZZY_WORD,
                limit=5,
            ):
                found.setdefault(candidate, ratio / 100.0)
        return found

    def score(
        self, question: Sequence[str], keep: int = 3
    ) -> tuple[dict[str, tuple[float, float, float, float]], float]:
        """Scores of the best `keep` entries over this language (none below FLOOR), each with
        its coverage of the question, the best share of one of its phrasings the question
        covers, and how well it meets the question's heaviest term; and the share of the
        question's terms that no phrasing in this language knows.

        Every phrasing is scored at once with numpy: per question term, the best similarity
        each phrasing offers it (recall), and per phrasing, how much of its weight the
        question covers (precision); an entry's score is its best phrasing's, blended with
        how much of the question all its phrasings together cover.
        """
        if not question:
            return {}, 1.0
        matches = [self.similar(q) for q in question]
        unknown = sum(1 for m in matches if not m) / len(matches)
        weights = [max((self.idf[t] for t in m), default=self.unknown) for m in matches]
        total = sum(weights)
        if not self.phrasings or unknown == 1.0:
            return {}, unknown
        postings, idf = self.postings, self.idf
        hits = np.zeros((len(matches), len(self.phrasings)))  # best similarity per term
        best_t: dict[str, float] = {}  # per index term: its best similarity to the question
        for qi, m in enumerate(matches):
            row = hits[qi]
            for t, sim in m.items():
                at = postings[t]
                row[at] = np.maximum(row[at], sim)
                if sim > best_t.get(t, 0.0):
                    best_t[t] = sim
        covered = np.zeros(len(self.phrasings))
        for t, sim in best_t.items():
            covered[postings[t]] += idf[t] * sim
        w = np.array(weights) / total
        recall = w @ hits
        precision = covered / self.phrasing_weight
        b2 = BETA * BETA
        denominator = b2 * precision + recall
        f = np.divide(
            (1 + b2) * precision * recall,
            denominator,
            out=np.zeros_like(recall),
            where=denominator > 0,
        )
        top = np.maximum.reduceat(f, self.entry_starts)
        entry_hits = np.maximum.reduceat(hits, self.entry_starts, axis=1)
        entry_recall = w @ entry_hits
        # how much of its nearest phrasing the question covers at best (1: a whole phrasing
        # is in the question), and how well the entry meets the question's heaviest term
        entry_precision = np.maximum.reduceat(precision, self.entry_starts)
        heaviest = entry_hits[int(np.argmax(w))]
        bound = (1 - ENTRY_BLEND) * (1 + b2) * entry_recall / (
            b2 + entry_recall
        ) + ENTRY_BLEND * entry_recall
        value = (1 - ENTRY_BLEND) * top + ENTRY_BLEND * entry_recall
        value[(bound < FLOOR) | (entry_recall <= 0)] = -1.0
        # the best `keep` and any tied with the last; ties in order of coverage, then of id
        # from the end (the order the scores had when entries were scored one by one)
        if len(value) > keep:
            last = np.partition(value, len(value) - keep)[len(value) - keep]
            candidates = np.flatnonzero(value >= max(last, 0.0))
        else:
            candidates = np.flatnonzero(value >= 0.0)
        order = self.entry_order
        ranked = sorted(
            candidates.tolist(), key=lambda i: (value[i], entry_recall[i], order[i]), reverse=True
        )
        scores = {
            order[i]: (
                float(value[i]),
                float(entry_recall[i]),
                float(entry_precision[i]),
                float(heaviest[i]),
            )
            for i in ranked
        }
        return scores, unknown


class FaqMatcher:
    """Built once from the FAQ and the synonym table; `match` returns entries best first."""

    def __init__(self, entries: Iterable[FaqEntry], concepts: Iterable[Concept] = ()) -> None:
        entries = list(entries)
        self.concepts = Concepts(concepts)
        self.ids = [e.id for e in entries]
        self.indexes = {
            lang: _LangIndex(
                lang,
                [
                    (e.id, terms(text, lang, self.concepts))
                    for e in entries
                    for text in e.questions.get(lang)
                ],
                len(entries),
            )
            for lang in LANGS
        }
        vocabulary = {
            spoken.standard(w, lang)
            for e in entries
            for lang in LANGS
            for text in e.questions.get(lang)
            for w in words(text)
        } | {w for stop in STOP_WORDS.values() for w in stop}
        for index in self.indexes.values():
            index.prepare(self.concepts, vocabulary)
        self.ngrams = NgramModel(
            (e.id, lang, self._ngram_words(text, lang))
            for e in entries
            for lang in LANGS
            for text in e.questions.get(lang)
        )

    @staticmethod
    def _ngram_words(text: str, lang: str) -> list[str]:
        """The words the n-gram model reads: spoken forms written out, nothing else (neither
        stems nor the synonym table, so that its opinion stays its own)."""
        return normalise(words(text)[: MAX_TERMS * 2], lang)

    def match(self, text: str, lang: str = "fi", limit: int = 3) -> list[Match]:
        scores: dict[str, tuple[float, float, float, float]] = {}
        unknown = 1.0
        length = 0
        for index_lang, index in self.indexes.items():
            factor = 1.0 if index_lang == lang else OTHER_LANG
            question = terms(text, index_lang, self.concepts, index.idf, index.units)
            if index_lang == lang:
                length = len(question)
            found, share = index.score(question, limit)
            unknown = min(unknown, share)
            for entry_id, (value, *rest) in found.items():
                if value * factor > scores.get(entry_id, (0.0,))[0]:
                    scores[entry_id] = (value * factor, *rest)
        ranked = sorted(scores.items(), key=lambda kv: kv[1][0], reverse=True)[:limit]
        if not ranked:
            return []
        opinions = self.ngrams.opinions(
            self._ngram_words(text, lang), [entry_id for entry_id, _ in ranked]
        )
        out = []
        for entry_id, (v, c, precision, heaviest) in ranked:
            centroid, rival, nearest, nearest_rival = opinions[entry_id]
            out.append(
                Match(
                    entry_id,
                    round(v, 4),
                    round(c, 4),
                    precision=round(precision, 4),
                    heaviest=round(heaviest, 4),
                    length=length,
                    similarity=round(centroid, 4),
                    rival=round(rival, 4),
                    nearest=round(nearest, 4),
                    nearest_rival=round(nearest_rival, 4),
                    unknown=round(unknown, 4),
                )
            )
        if len(out) > 1 and out[0].score - out[1].score <= SWAP:
            first, second = out[0], out[1]
            if second.similarity + second.nearest > first.similarity + first.nearest:
                out[0], out[1] = second, first
        return out


def unsure(lang: str) -> float:
    """The best score from which "did you mean" buttons are offered; below it, "I don't know"."""
    limits = confidence.shipped().unsure
    return limits.get(lang, limits["fi"])


def decide(matches: Sequence[Match], lang: str = "fi") -> str:
    """answer | suggest | unknown, from the ranked matches and the user's language.

    Whether to answer at once is the calibrated model's call (dialogs/faq_confidence.py,
    fitted on the dev sets by bench/faq_accuracy.py --calibrate): the probability that the
    best entry is right, from its score, margin, coverage, the runner-up and the language.
    Under the "did you mean" floor (`unsure`) the answer is "I don't know" unless the model
    is sure enough to answer at once (a long message whose context dilutes the score)."""
    calibration = confidence.shipped()
    if not matches or matches[0].score < FLOOR:  # the matcher returns none so weak
        return "unknown"
    if calibration.probability(matches, lang) >= calibration.threshold:
        return "answer"
    if matches[0].score < unsure(lang):
        return "unknown"
    return "suggest"


def also(matches: Sequence[Match], lang: str = "fi") -> str | None:
    """The runner-up of an answer given at once, when it is a near neighbour of the best
    entry (privacy / mydata): offered as a button next to the answer, since it may be the
    one that was meant."""
    if len(matches) < 2 or matches[1].score < unsure(lang):
        return None
    near = confidence.shipped().near(matches[0].entry_id, matches[1].entry_id)
    return matches[1].entry_id if near else None
