"""How sure the FAQ matcher is that its best entry answers the question.

The matcher ranks entries; whether to answer at once is a separate question, learnt from
labelled questions (the dev sets only) as a small logistic regression over what the ranking
already tells: the best score, its margin over the runner-up, how much of the question the
best entry explains (coverage), the runner-up's score, whether the runner-up is a near
neighbour of the best (two entries the FAQ's own phrasings confuse, e.g. privacy / mydata),
and the user's language; and over a second, independent opinion (faq_ngrams: character
n-grams, no words): how similar the question is to the best entry (its centroid and its
nearest phrasing), whether that model agrees the entry is the best and by how much it leads
its rival, and the share of the
question's words the FAQ does not know at all (off-topic questions are full of them); and
over what tells a long message with context from a stray match: the best share of one of
the entry's phrasings the question covers (a message that holds a whole phrasing asks it,
whatever else it says), whether the entry meets the question's heaviest (rarest) term, and
the question's length in terms.
The model gives a probability that the best entry is right; the bot answers at once from a
threshold chosen by cross-validation on the dev sets so that at most about 1.25 % of the dev
questions would get a wrong answer at once (the aim is under 2 % on sets never tuned on,
which are harder than the dev sets). A best score under the "did you mean" floor may still
be answered when the model is that sure (a long message whose context dilutes the score);
otherwise it is "I don't know".

Everything learnt is data in knowledge/faq_calibration.yaml, written by
`bench/faq_accuracy.py --calibrate`; the fitting code is here so that the tests can check it.
Plain Python: seventeen weights and about a thousand rows need no numerical library.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml

CALIBRATION = Path(__file__).resolve().parent.parent / "knowledge" / "faq_calibration.yaml"
# The matcher does not score entries below its FLOOR (faq_match.FLOOR), so a missing runner-up
# is one that scored somewhere under it: counting it as 0 would promise a margin nobody
# measured, and a lone best entry of 0.5 would look surer than one with a runner-up at 0.3.
ABSENT = 0.3
# Two entries the word matcher scores (all but) the same are a tie, whichever comes first:
# "real person" alone fits "am I talking to a real person" and "put me through to a real
# person" equally, and the bot asks which one was meant rather than pick one by the order of
# the FAQ.
TIE = 0.005
FEATURES = (
    "bias",
    "score",
    "margin",
    "coverage",
    "runner_up",
    "near",
    "en",
    "sv",
    "similarity",
    "agree",
    "lead",
    "unknown",
    "nearest",
    "nearest_lead",
    "precision",
    "heaviest",
    "length",
)


class Ranked(Protocol):
    entry_id: str
    score: float
    coverage: float
    similarity: float
    rival: float
    unknown: float
    nearest: float
    nearest_rival: float
    precision: float
    heaviest: float
    length: int


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]  # one per FEATURES
    threshold: float  # answer at once from this probability up
    unsure: dict[str, float]  # per language: below this best score, "I don't know"
    neighbours: frozenset[frozenset[str]] = field(default_factory=frozenset)
    # An answer at once must also explain this share of the question, whatever the model
    # says: a question that shares a word or two with an entry ("paljonko maksaa bussilippu")
    # can score high on those words, and off-topic questions are rare in any labelled set.
    coverage: float = 0.0

    def near(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.neighbours

    def features(self, matches: Sequence[Ranked], lang: str) -> list[float]:
        top = matches[0]
        second = matches[1] if len(matches) > 1 else None
        runner_up = max(second.score, ABSENT) if second else ABSENT
        near = 1.0 if second and self.near(top.entry_id, second.entry_id) else 0.0
        return [
            1.0,
            top.score,
            top.score - runner_up,
            top.coverage,
            runner_up,
            near,
            1.0 if lang == "en" else 0.0,
            1.0 if lang == "sv" else 0.0,
            top.similarity,
            1.0 if top.similarity > top.rival else 0.0,
            top.similarity - top.rival,
            top.unknown,
            top.nearest,
            top.nearest - top.nearest_rival,
            top.precision,
            top.heaviest,
            math.log1p(top.length),
        ]

    def answerable(self, matches: Sequence[Ranked]) -> bool:
        """Whether the model may answer at all: the best entry explains enough of the
        question, and is no tie with the runner-up (nor put before a runner-up with a higher
        word score by the n-gram model: faq_match.SWAP)."""
        if not matches or matches[0].coverage < self.coverage:
            return False
        return len(matches) < 2 or matches[0].score - matches[1].score >= TIE

    def probability(self, matches: Sequence[Ranked], lang: str) -> float:
        if not self.answerable(matches):
            return 0.0
        return sigmoid(dot(self.weights, self.features(matches, lang)))

    def as_data(self) -> dict[str, object]:
        return {
            "weights": dict(zip(FEATURES, (round(w, 4) for w in self.weights), strict=True)),
            "threshold": round(self.threshold, 4),
            "coverage": self.coverage,
            "unsure": dict(self.unsure),
            "neighbours": sorted(sorted(pair) for pair in self.neighbours),
        }

    @classmethod
    def from_data(cls, data: dict) -> Calibration:
        return cls(
            weights=tuple(float(data["weights"][name]) for name in FEATURES),
            threshold=float(data["threshold"]),
            unsure={lang: float(v) for lang, v in data["unsure"].items()},
            neighbours=frozenset(frozenset(pair) for pair in data.get("neighbours", ())),
            coverage=float(data.get("coverage", 0.0)),
        )


@lru_cache(maxsize=1)
def shipped() -> Calibration:
    """The calibration shipped in knowledge/faq_calibration.yaml."""
    return Calibration.from_data(yaml.safe_load(CALIBRATION.read_text(encoding="utf-8")))


def save(calibration: Calibration, header: str, path: Path = CALIBRATION) -> None:
    body = yaml.safe_dump(calibration.as_data(), sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def fit(rows: Sequence[Sequence[float]], labels: Sequence[int], l2: float = 1.0) -> list[float]:
    """Logistic regression by Newton's method with an L2 penalty (not on the bias): the
    penalty keeps the few hundred dev rows from deciding weights they cannot support."""
    k = len(rows[0])
    w = [0.0] * k
    for _ in range(50):
        grad = [l2 * w[j] if j else 0.0 for j in range(k)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(k)] for i in range(k)]
        for x, y in zip(rows, labels, strict=True):
            p = sigmoid(dot(w, x))
            g, h = p - y, p * (1 - p)
            for i in range(k):
                grad[i] += g * x[i]
                hi = h * x[i]
                row = hess[i]
                for j in range(k):
                    row[j] += hi * x[j]
        step = solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return w


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """a x = b by Gaussian elimination with partial pivoting (a is small and positive definite
    up to rounding, thanks to the penalty)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            m[col][col] = 1e-12
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def out_of_fold(
    rows: Sequence[Sequence[float]],
    labels: Sequence[int],
    folds: int = 5,
    repeats: int = 4,
    l2: float = 1.0,
    seed: int = 11,
) -> list[list[float]]:
    """Each row's probability from models fitted without it: `repeats` shufflings of
    `folds`-fold cross-validation, so that the threshold is chosen on honest scores."""
    rng = random.Random(seed)
    out: list[list[float]] = [[] for _ in rows]
    order = list(range(len(rows)))
    for _ in range(repeats):
        rng.shuffle(order)
        for f in range(folds):
            test = set(order[f::folds])
            train = [i for i in order if i not in test]
            w = fit([rows[i] for i in train], [labels[i] for i in train], l2)
            for i in test:
                out[i].append(sigmoid(dot(w, rows[i])))
    return out


def choose_threshold(
    probabilities: Sequence[Sequence[float]],
    outcomes: Sequence[str],
    total: int,
    max_wrong: float = 0.01,
) -> float:
    """The lowest threshold at which, averaged over the cross-validation repeats, no more than
    `max_wrong` of all `total` questions get a wrong answer at once. `outcomes`: "right" (the
    best entry answers it), "wrong" (it does not, or the question is off-topic) per row."""
    candidates = sorted({round(p, 3) for ps in probabilities for p in ps} | {0.999})
    repeats = len(probabilities[0]) if probabilities else 1
    for t in candidates:
        wrong = sum(
            sum(p >= t for p in ps)
            for ps, o in zip(probabilities, outcomes, strict=True)
            if o == "wrong"
        )
        if wrong / repeats <= max_wrong * total:
            return t
    return 1.0


def guard_threshold(
    threshold: float,
    probabilities: Sequence[float],
    outcomes: Sequence[str],
    groups: Sequence[str],
    sizes: dict[str, int],
    cap: float,
) -> float:
    """`threshold`, raised as little as needed so that in no group (a labelled set of `sizes[g]`
    questions) more than `cap` of the questions get a wrong answer at once with the final
    model's `probabilities` (one per row; rows of `groups[i]`). The cross-validated threshold
    bounds the wrong answers over all sets together; a small set whose wrong tops score high
    (an off-topic question about a real entry's subject) would otherwise go over the aim."""
    wrong = sorted(
        ((p, g) for p, o, g in zip(probabilities, outcomes, groups, strict=True) if o == "wrong"),
        reverse=True,
    )
    t = threshold
    while True:
        counts: dict[str, int] = {}
        for p, g in wrong:
            if p >= t:
                counts[g] = counts.get(g, 0) + 1
        over = [g for g, n in counts.items() if n > cap * sizes[g]]
        if not over:
            return t
        # the lowest threshold that drops the least sure wrong answer of a set over the cap
        t = min(p for p, g in wrong if g in over and p >= t) + 0.001


def find_neighbours(
    phrasings: Sequence[tuple[str, str, str]],
    match: Callable[[str, str], Sequence[Ranked]],
    within: float = 0.3,
    share: float = 0.2,
) -> frozenset[frozenset[str]]:
    """Pairs of entries the FAQ's own phrasings confuse: for at least `share` of one entry's
    phrasings (entry id, language, text), the other entry ranks first or second within
    `within` of the best. Learnt from the FAQ itself, not from any question set."""
    count: dict[frozenset[str], int] = {}
    per_entry: dict[str, int] = {}
    for entry_id, lang, text in phrasings:
        per_entry[entry_id] = per_entry.get(entry_id, 0) + 1
        ranked = match(text, lang)[:2]
        others = {m.entry_id for m in ranked if m.entry_id != entry_id}
        if len(ranked) == 2 and ranked[0].score - ranked[1].score > within:
            others.discard(ranked[1].entry_id)
        for other in others:
            key = frozenset((entry_id, other))
            count[key] = count.get(key, 0) + 1
    return frozenset(
        pair for pair, n in count.items() if any(n >= share * per_entry.get(e, 1) for e in pair)
    )
