"""Free-text questions to FAQ entries: tolerant of Finnish inflection, typos and language.

How a question is scored against one phrasing of an entry:

1. Both are normalised (case-folded, punctuation and markup dropped), cut into words,
   stripped of stop words and reduced to Snowball stems in the phrasing's language, then
   folded to ASCII (ä→a, ö→o, å→a) so that "tyopajaan" meets "työpajassa".
2. Each question word finds its closest phrasing word: equal stems count 1, a stem that
   is the start of the other (compounds: "palkkatuki" ~ "palkkatukityö") 0.9, otherwise
   rapidfuzz's similarity when it is at least 80 % (typos), scaled to 0..1.
3. Words count by their rarity across entries (IDF): "kierto" says less than "ohjaamo".
   Recall = matched question weight / question weight; precision = matched phrasing weight
   / phrasing weight; the score is their weighted harmonic mean, leaning on precision so
   that a greeting or a little context around a question does not drown it.

An entry scores its best phrasing over all three languages, so a Swede writing Finnish is
still understood; the answer comes in the user's own language.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz, process

from knowledge.schema import FaqEntry

STEMMERS = {"fi": "finnish", "en": "english", "sv": "swedish"}

# Function words that say nothing about the topic. Question words stay out too: the
# topic words decide which entry fits, and "who"/"what" alone would only add noise.
STOP_WORDS = {
    "fi": set("""
        mikä mitä mikäs mitäs mistä mihin miksi miten kuinka millainen millaista missä milloin
        kuka kenelle kenen ketä onko onks onkos oliko voiko voiks voinko voisinko voinks
        saako saanko pitääkö tarviiko tarvitseeko kannattaako on ole olla oon olen olet oot
        olisi ois ovat oli ja tai vai mutta että jos kun kuin niin myös vielä jo nyt sitten
        se sen sitä ne niitä niiden tämä tää tätä tässä siinä siitä sinne tuo toi tota
        minä mä mää mun mulla mulle minun minulla minulle minua sinä sä sun sulla sulle sinun
        sinulla me meillä meidän te teillä teidän he heillä
        ei en et eikö eiks ku jne esim eli vaan kyllä joo no hei moi moikka terve
        kiitos kiitti hyvä päivää iltaa huomenta siis ihan aika tosi vaan vähän jotain joku
        jokin johonkin mikään mitään kaikki yksi mut ni nii jos jotta koska
        pitäs pitäisi voisi voisko voitko voisitko kerro kerrotko selitä haluaisin haluun
        haluan tietää tietäisin
    """.split()),
    "en": set("""
        what whats what's which who whom whose where when why how is are was were be been am
        do does did doing can could would should will shall may might must i me my mine you
        your yours we our us they them their he she it its this that these those there here
        a an the and or but if then so than too also very just about of to in on at for from
        with by as into out up down any some anything something please tell explain know want
        wanna need im i'm ive i've dont don't hi hello hey thanks thank get got have has had
        there's theres like really much many
    """.split()),
    "sv": set("""
        vad vilken vilket vilka vem vems var vart när varför hur är var vara varit blir bli
        kan kunde ska skulle får fick måste vill ville har hade jag mig min mitt mina du dig
        din ditt dina vi oss vår vårt våra ni er ert era de dem deras han hon den det denna
        detta dessa där här en ett och eller men om så än också mycket bara av till i på
        för från med som ut upp någon något några inte nej ja hej tack berätta förklara veta
        vet finns man sig sin sitt sina
    """.split()),
}

WORD_RE = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u"})
OOV_WEIGHT = 1.0  # weight of a question word no phrasing uses
FUZZY_MIN = 80.0  # rapidfuzz ratio needed to count a typo as the same word
PREFIX_MIN = 5  # a stem this long may match a longer word it starts (compounds)
PRECISION_BIAS = 2.0  # F-beta with beta = 1/2: precision weighs twice recall


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"<[^>]{0,100}>", " ", text)  # markup is not content
    return WORD_RE.findall(text)


@lru_cache(maxsize=4096)
def _stem(lang: str, word: str) -> str:
    return _STEMMERS[lang].stemWord(word).translate(FOLD)


_STEMMERS = {lang: snowballstemmer.stemmer(name) for lang, name in STEMMERS.items()}


def terms(text: str, lang: str) -> list[str]:
    """The stems that carry meaning, in order, without repeats."""
    stop = STOP_WORDS[lang]
    out: list[str] = []
    for word in words(text):
        if word in stop or word.translate(FOLD) in stop:
            continue
        if len(word) == 1 and not word.isdigit():
            continue
        stem = _stem(lang, word)
        if stem and stem not in out:
            out.append(stem)
    return out


@dataclass(frozen=True)
class Match:
    entry_id: str
    score: float  # 0..1


@dataclass(frozen=True)
class _Phrasing:
    entry_id: str
    terms: tuple[str, ...]
    weight: float


class _LangIndex:
    """Every phrasing of one language, with an inverted index from stem to phrasings."""

    def __init__(self, lang: str, phrasings: list[tuple[str, str]], n_entries: int) -> None:
        self.lang = lang
        doc_freq: dict[str, set[str]] = defaultdict(set)
        parsed = [(entry_id, terms(text, lang)) for entry_id, text in phrasings]
        for entry_id, ts in parsed:
            for t in ts:
                doc_freq[t].add(entry_id)
        self.idf = {t: math.log((n_entries + 1) / (len(ids) + 0.5)) for t, ids in doc_freq.items()}
        self.vocab = list(self.idf)
        self.by_prefix: dict[str, list[str]] = defaultdict(list)
        for t in self.vocab:
            for cut in range(PREFIX_MIN, len(t)):
                self.by_prefix[t[:cut]].append(t)
        self.phrasings = [
            _Phrasing(entry_id, tuple(ts), sum(self.idf[t] for t in ts))
            for entry_id, ts in parsed if ts
        ]
        self.postings: dict[str, list[int]] = defaultdict(list)
        for index, phrasing in enumerate(self.phrasings):
            for t in phrasing.terms:
                self.postings[t].append(index)

    def similar(self, stem: str) -> dict[str, float]:
        """Vocabulary stems close to `stem`, with their similarity 0..1."""
        found: dict[str, float] = {}
        if stem in self.idf:
            found[stem] = 1.0
        if len(stem) >= PREFIX_MIN:
            for longer in self.by_prefix.get(stem, ()):
                found.setdefault(longer, 0.9)
            for cut in range(PREFIX_MIN, len(stem)):
                if stem[:cut] in self.idf:
                    found.setdefault(stem[:cut], 0.9)
        if len(stem) >= 4:
            for candidate, ratio, _ in process.extract(
                stem, self.vocab, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN, limit=8
            ):
                found.setdefault(candidate, ratio / 100.0)
        return found

    def score(self, question: Sequence[str]) -> dict[str, float]:
        """Best score per entry over this language's phrasings."""
        if not question:
            return {}
        # per question word: the phrasing words it matches and how well
        matches = [self.similar(q) for q in question]
        q_weights = [max((self.idf[t] for t in m), default=OOV_WEIGHT) for m in matches]
        q_total = sum(q_weights)
        candidates: set[int] = set()
        for m in matches:
            for t in m:
                candidates.update(self.postings.get(t, ()))
        best: dict[str, float] = {}
        beta2 = 1 / PRECISION_BIAS**2
        for index in candidates:
            phrasing = self.phrasings[index]
            in_phrasing = set(phrasing.terms)
            recalled = 0.0
            covered: dict[str, float] = {}
            for m, weight in zip(matches, q_weights, strict=True):
                hit = max(((sim, t) for t, sim in m.items() if t in in_phrasing), default=None)
                if hit is None:
                    continue
                sim, t = hit
                recalled += sim * weight
                covered[t] = max(covered.get(t, 0.0), sim)
            recall = recalled / q_total
            precision = sum(self.idf[t] * s for t, s in covered.items()) / phrasing.weight
            if recall <= 0 or precision <= 0:
                continue
            f = (1 + beta2) * precision * recall / (beta2 * precision + recall)
            if f > best.get(phrasing.entry_id, 0.0):
                best[phrasing.entry_id] = f
        return best


class FaqMatcher:
    """Built once from the FAQ; `match` returns entries best first."""

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        entries = list(entries)
        self.ids = [e.id for e in entries]
        self.indexes = {
            lang: _LangIndex(
                lang,
                [(e.id, text) for e in entries for text in e.questions.get(lang)],
                len(entries),
            )
            for lang in STEMMERS
        }

    def match(self, text: str, lang: str = "fi", limit: int = 3) -> list[Match]:
        scores: dict[str, float] = {}
        for index_lang, index in self.indexes.items():
            for entry_id, value in index.score(terms(text, index_lang)).items():
                # the user's own language is the likeliest; others must be clearly better
                value *= 1.0 if index_lang == lang else 0.95
                scores[entry_id] = max(scores.get(entry_id, 0.0), value)
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        return [Match(entry_id, round(value, 4)) for entry_id, value in ranked]
