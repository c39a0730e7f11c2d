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
        self.vocab: dict[str, int] = {}
        self.ids: list[str] = []
        groups: dict[tuple[str, str], int] = {}
        doc_of: list[int] = []  # per (phrasing, n-gram) pair: the phrasing,
        gram_of: list[int] = []  # the n-gram's id,
        count_of: list[int] = []  # and how often it occurs there
        group_of: list[int] = []  # per phrasing: its (entry, language) group
        owner: list[int] = []  # per phrasing: its entry
        for p, (entry_id, lang, words) in enumerate(phrasings):
            if not self.ids or self.ids[-1] != entry_id:
                if entry_id in self.ids:
                    raise ValueError("phrasings must come grouped by entry")
                self.ids.append(entry_id)
            owner.append(len(self.ids) - 1)
            group_of.append(groups.setdefault((entry_id, lang), len(groups)))
            for g, c in ngrams(words).items():
                doc_of.append(p)
                gram_of.append(self.vocab.setdefault(g, len(self.vocab)))
                count_of.append(c)
        docs, grams = np.array(doc_of, dtype=np.int64), np.array(gram_of, dtype=np.int64)
        n, size = len(owner), len(self.vocab)
        df = np.bincount(grams, minlength=size)
        self.idf = np.log((1 + n) / (1 + df)) + 1
        weights = (1 + np.log(np.array(count_of, dtype=np.float64))) * self.idf[grams]
        weights /= np.sqrt(np.bincount(docs, weights=weights * weights, minlength=n))[docs]
        # each phrasing's own vector, by n-gram: rows and weights, sliced by `single_at`
        order = np.argsort(grams, kind="stable")
        self.single = (docs[order].astype(np.int32), weights[order].astype(np.float32))
        self.single_at = _offsets(grams, size)
        # a centroid per group: the sum of its phrasings' vectors, normalised
        n_groups = len(groups)
        key = grams * n_groups + np.array(group_of, dtype=np.int64)[docs]
        unique, inverse = np.unique(key, return_inverse=True)  # sorted: by n-gram, then group
        sums = np.bincount(inverse, weights=weights)
        rows = unique % n_groups
        sums /= np.sqrt(np.bincount(rows, weights=sums * sums, minlength=n_groups))[rows]
        self.centroids = (rows.astype(np.int32), sums.astype(np.float32))
        self.centroids_at = _offsets(unique // n_groups, size)
        self.index = index = {e: i for i, e in enumerate(self.ids)}
        group_entry = np.empty(n_groups, dtype=np.int64)
        for (entry_id, _), g in groups.items():
            group_entry[g] = index[entry_id]
        if np.any(np.diff(group_entry) < 0):
            raise ValueError("phrasings must come grouped by entry")
        self.n_groups, self.n_phrasings = n_groups, n
        self.group_starts = np.searchsorted(group_entry, np.arange(len(self.ids)))
        self.starts = np.searchsorted(np.array(owner), np.arange(len(self.ids)))

    def _vector(self, counts: dict[str, int]) -> tuple[list[int], np.ndarray]:
        """Sublinear TF-IDF over the n-grams the FAQ knows, L2-normalised."""
        known = [(self.vocab[g], c) for g, c in counts.items() if g in self.vocab]
        ids = [i for i, _ in known]
        weights = (1 + np.log(np.array([c for _, c in known], dtype=np.float64))) * self.idf[ids]
        norm = float(np.sqrt(weights @ weights)) or 1.0
        return ids, weights / norm

    def scores(self, words: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Normalised words against every entry (in the order of `ids`): the cosine with
        the entry's nearest centroid, and with its nearest phrasing."""
        ids, weights = self._vector(ngrams(words))
        if not ids:
            zeros = np.zeros(len(self.ids), dtype=np.float64)
            return zeros, zeros
        centroid = np.maximum.reduceat(
            _gather(self.centroids, self.centroids_at, ids, weights, self.n_groups),
            self.group_starts,
        )
        nearest = np.maximum.reduceat(
            _gather(self.single, self.single_at, ids, weights, self.n_phrasings), self.starts
        )
        return centroid, nearest

    def similarities(self, words: Iterable[str]) -> dict[str, tuple[float, float]]:
        """`scores` of the entries that share an n-gram with the words, by entry id."""
        centroid, nearest = self.scores(words)
        return {
            self.ids[i]: (float(centroid[i]), float(nearest[i])) for i in np.flatnonzero(centroid)
        }

    def opinions(
        self, words: Iterable[str], entry_ids: Iterable[str]
    ) -> dict[str, tuple[float, float, float, float]]:
        """For each of `entry_ids`: its centroid similarity, the best of any other entry,
        its nearest-phrasing similarity, and the best of any other entry."""
        centroid, nearest = self.scores(words)
        out = {}
        for entry_id in entry_ids:
            i = self.index.get(entry_id)
            if i is None:
                out[entry_id] = (0.0, float(centroid.max()), 0.0, float(nearest.max()))
                continue
            out[entry_id] = (
                float(centroid[i]),
                _best_other(centroid, i),
                float(nearest[i]),
                _best_other(nearest, i),
            )
        return out


def _best_other(values: np.ndarray, i: int) -> float:
    if len(values) < 2:
        return 0.0
    mine = values[i]
    values[i] = -1.0
    best = float(values.max())
    values[i] = mine
    return max(best, 0.0)


def _offsets(sorted_grams: np.ndarray, size: int) -> np.ndarray:
    """Where each n-gram's run starts in an array sorted by n-gram (size + 1 offsets)."""
    return np.concatenate(([0], np.cumsum(np.bincount(sorted_grams, minlength=size))))


def _gather(
    postings: tuple[np.ndarray, np.ndarray],
    at: np.ndarray,
    ids: list[int],
    weights: np.ndarray,
    size: int,
) -> np.ndarray:
    """The dot product of the query (n-gram ids and weights) with every row of postings."""
    rows, values = postings
    starts = at[ids]
    lengths = at[np.array(ids) + 1] - starts
    # the positions of every run, end to end: start of its run + place within it
    take = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return np.bincount(
        rows[take], weights=values[take] * np.repeat(weights, lengths), minlength=size
    )
