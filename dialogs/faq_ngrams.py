"""A second, independent opinion on which FAQ entry a question asks for: character n-grams.

The word matcher (faq_match) reasons about words: stems, concepts, typos. This model does
not know words at all. Each text (spoken forms written out by faq_spoken.standard, folded to
ASCII) becomes the counts of its character 2- to 5-grams within word boundaries (" paj",
"ajas", "sas "), weighted by TF-IDF over the FAQ's phrasings; a question is compared
with each entry's centroid (the normalised mean of its phrasings' vectors) and with its
nearest phrasing, both by cosine. It is built from the FAQ's own phrasings when the
matcher is built; no question set is used, so the dev sets stay free for calibrating the
answer-at-once model.

It does not rank answers. It tells the answer-at-once model (faq_confidence) how close the
question is to the word matcher's best entry, and whether it agrees on which entry is
best: two models that fail in different ways rarely agree on the same wrong entry, and a
question far from every entry (off-topic) is far in characters too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from dialogs import faq_spoken as spoken

N_MIN, N_MAX = 2, 5
FOLD = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u"})


def normalise(words: Iterable[str], lang: str) -> list[str]:
    """Words (already split and case-folded) in their written, ASCII-folded form."""
    return [spoken.standard(w, lang).translate(FOLD) for w in words]


def ngrams(words: Iterable[str]) -> dict[str, int]:
    """Counts of the character n-grams inside each word padded with a space either side."""
    counts: dict[str, int] = defaultdict(int)
    for word in words:
        padded = f" {word} "
        for n in range(N_MIN, N_MAX + 1):
            if len(padded) < n:
                break
            for i in range(len(padded) - n + 1):
                counts[padded[i : i + n]] += 1
    return counts


class NgramModel:
    """Nearest-centroid TF-IDF over character n-grams: a centroid per entry and language."""

    def __init__(self, phrasings: Iterable[tuple[str, str, list[str]]]) -> None:
        """`phrasings`: (entry id, language, normalised words) for every phrasing of the
        FAQ, each entry's together. An entry has a centroid per language (a Swedish question
        is compared with the Swedish phrasings' centroid, not one blurred by the Finnish
        ones); its similarity is the best of them."""
        docs = [(e, lang, ngrams(ws)) for e, lang, ws in phrasings]
        self.ids: list[str] = list(dict.fromkeys(e for e, _, _ in docs))
        row = {e: i for i, e in enumerate(self.ids)}
        groups = list(dict.fromkeys((e, lang) for e, lang, _ in docs))
        group_row = {g: i for i, g in enumerate(groups)}
        owner = [row[e] for e, _, _ in docs]
        if owner != sorted(owner):  # each entry's phrasings must be contiguous (reduceat)
            raise ValueError("phrasings must come grouped by entry")
        df: dict[str, int] = defaultdict(int)
        for _, _, counts in docs:
            for g in counts:
                df[g] += 1
        n = len(docs)
        self.idf = {g: math.log((1 + n) / (1 + d)) + 1 for g, d in df.items()}
        sums: list[dict[str, float]] = [defaultdict(float) for _ in groups]
        # each phrasing's own vector too: (phrasing rows, weights) per n-gram
        single: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for p, (entry_id, lang, counts) in enumerate(docs):
            vec = self._vector(counts)
            target = sums[group_row[entry_id, lang]]
            for g, w in vec.items():
                target[g] += w
                single[g][0].append(p)
                single[g][1].append(w)
        self.starts = np.searchsorted(np.array(owner), np.arange(len(self.ids)))
        self.group_starts = np.searchsorted(
            np.array([row[e] for e, _ in groups]), np.arange(len(self.ids))
        )
        self.n_phrasings = len(docs)
        self.n_groups = len(groups)
        self.single = _arrays(single)
        # postings: n-gram -> (centroid rows, weights), so a question touches only the
        # centroids that share an n-gram with it
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for r, total in enumerate(sums):
            norm = math.sqrt(sum(w * w for w in total.values())) or 1.0
            for g, w in total.items():
                postings[g][0].append(r)
                postings[g][1].append(w / norm)
        self.postings = _arrays(postings)

    def _vector(self, counts: dict[str, int]) -> dict[str, float]:
        """Sublinear TF-IDF over the n-grams the FAQ knows, L2-normalised."""
        vec = {g: (1 + math.log(c)) * self.idf[g] for g, c in counts.items() if g in self.idf}
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        return {g: w / norm for g, w in vec.items()}

    def similarities(self, words: Iterable[str]) -> dict[str, tuple[float, float]]:
        """Normalised words against every entry that shares an n-gram with them: the
        cosine with the entry's centroid, and with its nearest phrasing."""
        vector = self._vector(ngrams(words))
        if not vector:
            return {}
        # one weighted count over the postings of all the question's n-grams at once
        centroid = np.maximum.reduceat(
            _gather(self.postings, vector, self.n_groups), self.group_starts
        )
        nearest = np.maximum.reduceat(_gather(self.single, vector, self.n_phrasings), self.starts)
        return {
            self.ids[i]: (float(centroid[i]), float(nearest[i])) for i in np.flatnonzero(centroid)
        }


def _gather(
    postings: dict[str, tuple[np.ndarray, np.ndarray]], vector: dict[str, float], size: int
) -> np.ndarray:
    """The dot product of `vector` with every row the postings hold."""
    lists = [postings[g] for g in vector]
    rows = np.concatenate([r for r, _ in lists])
    weights = np.concatenate([w for _, w in lists])
    weights *= np.repeat(
        np.fromiter(vector.values(), np.float32, len(vector)), [len(r) for r, _ in lists]
    )
    return np.bincount(rows, weights=weights, minlength=size)


def _arrays(
    postings: dict[str, tuple[list[int], list[float]]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        g: (np.array(rows, dtype=np.int32), np.array(weights, dtype=np.float32))
        for g, (rows, weights) in postings.items()
    }
