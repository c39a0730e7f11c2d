"""FAQ matcher benchmark: accuracy on labelled questions it has never seen, and latency.

    .venv/bin/python bench/faq_accuracy.py              # shipped FAQ and a 10x larger one
    .venv/bin/python bench/faq_accuracy.py --errors     # also list the dev sets' mistakes
    .venv/bin/python bench/faq_accuracy.py --calibrate  # refit the answer-at-once model

Nine labelled sets. `dev`, on which the matcher, its synonym table and its answer-at-once
model were tuned (its mistakes were read), and `held-out`, written independently by someone who saw
neither the dev set nor the matcher: only its figures are looked at, so they are the honest
ones. `colloquial-dev` and `colloquial-test`: Finnish as young people type it, written by
someone who had not seen the FAQ's phrasings; the dev half's mistakes may be read, the test
half's never. `dev-2` (fi/en/sv) and `dev-3` (spoken Finnish): more dev questions, written
from the entry headings, to give the answer-at-once model more rows; `dev-4` (spoken
Finnish, longer questions with context, en/sv) and `dev-5` (hard spoken Finnish: regional
forms, slang), written from the headings and answers; `dev-6` (fi/en/sv, long messages
with context), written blind from each entry's id, heading and answer only; `dev-7`
(fi/en/sv, mostly short questions, 10 % off-topic), written by a helper session from each
entry's id, heading and answer, who had read dev-6 and some of its mistakes (less blind
than dev-6, and easier: the matcher answered 89 % of it at once before it was fitted on).
The model is fitted on the eight dev sets only.

Prints, for kierto-bot's matcher and for a plain rapidfuzz baseline measured in the same
run (WRatio over the raw phrasings; its decisions use kierto-bot's model, fitted to other
scores, so only its top-1 is comparable):
- top-1 accuracy over answerable questions (the best entry is a right one),
- direct-and-right: answerable questions answered at once with a right entry,
- the decision accuracy (answered right, or correctly said "I don't know" for off-topic),
- wrong confident answers (answered at once, but wrongly) as a share of all questions,
- how often it asks "did you mean" and how often the right entry is among those buttons,
- match latency, median and p99 (every question matched several times), as wall-clock
  time and as the thread's CPU time: on a shared machine the wall clock also counts the
  time other processes held the CPU, the CPU time is what matching itself costs.
The 10x FAQ adds nine synthetic entries per real one, made of real words from the answers
in shuffled order, so the vocabulary and the index grow as they would.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialogs import faq_confidence as confidence  # noqa: E402
from dialogs.faq_match import FaqMatcher, Match, decide, words  # noqa: E402
from knowledge.loader import load  # noqa: E402
from knowledge.schema import FaqEntry, L10nList  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = {
    "dev": DATA / "faq_labelled.yaml",  # used to tune the matcher: its mistakes were studied
    "held-out": DATA / "faq_heldout.yaml",  # written independently; only its figures are read
    "colloquial-dev": DATA / "faq_colloquial_dev.yaml",  # spoken Finnish; mistakes studied
    "colloquial-test": DATA / "faq_colloquial_test.yaml",  # spoken Finnish; figures only
    "dev-2": DATA / "faq_dev2.yaml",  # more dev rows for the answer-at-once model; studied
    "dev-3": DATA / "faq_dev3.yaml",  # …and more spoken Finnish; studied
    "dev-4": DATA / "faq_dev4.yaml",  # spoken Finnish mostly, some en/sv, off-topic; studied
    "dev-5": DATA / "faq_dev5.yaml",  # hard spoken Finnish: regional forms, slang; studied
    "dev-6": DATA / "faq_dev6.yaml",  # written blind (headings and answers only); studied
    "dev-7": DATA / "faq_dev7.yaml",  # written from headings and answers; studied
}
DEV = (
    "dev",
    "colloquial-dev",
    "dev-2",
    "dev-3",
    "dev-4",
    "dev-5",
    "dev-6",
    "dev-7",
)  # what the answer-at-once model is fitted on
STUDIED = set(DEV)  # the only sets whose mistakes --errors may print


@dataclass(frozen=True)
class Item:
    text: str
    lang: str
    expect: frozenset[str]  # empty: off-topic, must not be answered


def labelled(name: str = "dev") -> list[Item]:
    data = yaml.safe_load(SETS[name].read_text(encoding="utf-8"))
    items = []
    for row in data["questions"]:
        expect = row["expect"]
        ids = (
            frozenset()
            if expect is None
            else frozenset([expect] if isinstance(expect, str) else expect)
        )
        items.append(Item(row["text"], row["lang"], ids))
    return items


def synthetic(entries: list[FaqEntry], factor: int, seed: int = 7) -> list[FaqEntry]:
    """`entries` plus (factor - 1) synthetic entries per real one, built from real words."""
    rng = random.Random(seed)
    pools = {
        lang: [w for e in entries for w in words(e.answer.get(lang)) if len(w) > 3]
        for lang in ("fi", "en", "sv")
    }
    out = list(entries)
    for copy in range(1, factor):
        for entry in entries:
            phrasings = {
                lang: [" ".join(rng.sample(pools[lang], rng.randint(2, 6))) for _ in range(5)]
                for lang in pools
            }
            out.append(
                FaqEntry(
                    id=f"s{copy}_{entry.id}"[:20],
                    topic="synthetic",
                    questions=L10nList(**phrasings),
                    answer=entry.answer,
                )
            )
    return out


class Baseline:
    """Plain rapidfuzz: WRatio of the raw question against every raw phrasing."""

    def __init__(self, entries: list[FaqEntry]) -> None:
        self.choices: list[str] = []
        self.owner: list[str] = []
        for entry in entries:
            for lang in ("fi", "en", "sv"):
                for text in entry.questions.get(lang):
                    self.choices.append(text.lower())
                    self.owner.append(entry.id)

    def match(self, text: str, lang: str = "fi", limit: int = 3) -> list[Match]:
        best: dict[str, float] = {}
        for _, score, index in process.extract(
            text.lower(), self.choices, scorer=fuzz.WRatio, limit=30
        ):
            entry_id = self.owner[index]
            best[entry_id] = max(best.get(entry_id, 0.0), score / 100)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        return [Match(e, s) for e, s in ranked]


def evaluate(
    name: str,
    match: Callable[[str, str], list[Match]],
    items: list[Item],
    repeats: int,
    show_errors: bool,
) -> dict[str, float]:
    answerable = [i for i in items if i.expect]
    top1 = decided_right = direct_right = wrong_confident = suggested = suggested_hit = 0
    errors: list[str] = []
    for item in items:
        matches = match(item.text, item.lang)
        decision = decide(matches, item.lang)
        top = matches[0].entry_id if matches else None
        if item.expect and top in item.expect:
            top1 += 1
        if decision == "answer":
            if top in item.expect:
                decided_right += 1
                direct_right += 1
            else:
                wrong_confident += 1
                errors.append(
                    f"WRONG  {item.text!r} -> {top} ({matches[0].score:.2f}); "
                    f"expected {sorted(item.expect) or 'nothing'}"
                )
        elif decision == "suggest":
            suggested += 1
            if not item.expect:
                decided_right += 0  # a suggestion for off-topic is a soft miss
            elif any(m.entry_id in item.expect for m in matches):
                suggested_hit += 1
            if show_errors and item.expect and top not in item.expect:
                errors.append(
                    f"SUGG   {item.text!r} -> {[(m.entry_id, m.score) for m in matches]}"
                    f"; expected {sorted(item.expect)}"
                )
        else:
            if not item.expect:
                decided_right += 1
            elif show_errors:
                errors.append(
                    f"MISS   {item.text!r} -> {[(m.entry_id, m.score) for m in matches]}"
                    f"; expected {sorted(item.expect)}"
                )
    timings, cpu = [], []
    for _ in range(repeats):
        for item in items:
            start, start_cpu = time.perf_counter(), time.thread_time()
            match(item.text, item.lang)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    cpu.sort()
    result = {
        "top1": top1 / len(answerable),
        "direct": direct_right / len(answerable),
        "decided": decided_right / len(items),
        "wrong_confident": wrong_confident / len(items),
        "suggested": suggested / len(items),
        "suggest_hit": suggested_hit / max(1, suggested),
        "p50_ms": statistics.median(timings),
        "p99_ms": timings[int(len(timings) * 0.99) - 1],
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p99_ms": cpu[int(len(cpu) * 0.99) - 1],
    }
    print(
        f"{name:<30} top-1 {result['top1']:6.1%}  direct-and-right {result['direct']:6.1%}  "
        f"decided right {result['decided']:6.1%}  "
        f"wrong confident {result['wrong_confident']:5.1%}  "
        f"did-you-mean {result['suggested']:5.1%} "
        f"(right one offered {result['suggest_hit']:5.1%})  "
        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
        f"(CPU p50 {result['cpu_p50_ms']:.2f} ms  p99 {result['cpu_p99_ms']:.2f} ms)"
    )
    if show_errors:
        for line in errors:
            print("   ", line)
    return result


# "Did you mean" from these best scores up (below them, "I don't know"), per language; chosen
# on the dev set when the matcher was tuned and kept: the model only decides answer vs suggest.
UNSURE = {"fi": 0.45, "en": 0.40, "sv": 0.40}
COVERAGE = 0.20  # 0.2-0.3 tried by cross-validation on the dev sets: see Calibration.coverage
# At most this share of the dev questions answered at once wrongly (CV). The aim is < 2 % on
# sets never tuned on; 1 % left held-out's direct-and-right at 68 %, and leaving dev-6 out of
# the fit showed it about 0.5 points wronger than the cross-validation promises: 1.25 % keeps a
# margin (1.5 % put dev-6 left out, and colloquial-dev, at 2.3-2.5 %).
MAX_WRONG = 0.0125
MAX_SET_WRONG = 0.019  # …and, with the final model, at most this share in any one dev set
PENALTIES = (0.03, 0.1, 0.3, 1.0, 3.0)  # L2 penalties tried; the cross-validation picks one
SAME = 0.005  # …the strongest of those within half a point of the best
REPEATS = 10  # shuffles of the 5-fold cross-validation: a steadier threshold than 4 gave
HEADER = """\
# FAQ answer-at-once model, written by `bench/faq_accuracy.py --calibrate` from the dev sets
# (bench/data/faq_labelled.yaml, faq_colloquial_dev.yaml, faq_dev2.yaml … faq_dev7.yaml) only;
# read by
# dialogs/faq_confidence.py. Do not edit by hand: change the method and recalibrate.
# weights: logistic regression over the features named; threshold: answer at once from this
# probability up (chosen by cross-validation for <= 1.25 % wrong answers at once on the dev sets,
# and raised if needed so that no dev set gets more than 1.9 %);
# unsure: per language, the best score from which "did you mean" is offered;
# neighbours: entries the FAQ's own phrasings confuse (the runner-up is offered as a button).
"""


def calibrate(matcher: FaqMatcher, entries: list[FaqEntry], sets: dict[str, list[Item]]) -> None:
    """Fit the answer-at-once model on the dev sets only and write knowledge/faq_calibration.yaml.

    Rows are the questions with a best entry that explains COVERAGE of the question and is
    no tie (under the "did you mean" score the model may still answer a question it is sure
    of, see faq_match.decide); a row is positive when the best entry answers it.
    The penalty and the threshold are chosen on out-of-fold probabilities (5-fold, 10 shuffles),
    so the threshold is not fitted to the very rows it is judged on."""
    phrasings = [
        (e.id, lang, text)
        for e in entries
        for lang in ("fi", "en", "sv")
        for text in e.questions.get(lang)
    ]
    neighbours = confidence.find_neighbours(phrasings, matcher.match)
    probe = confidence.Calibration(
        (0.0,) * len(confidence.FEATURES), 1.0, UNSURE, neighbours, COVERAGE
    )
    # rows the coverage floor or a tie keeps from an answer at once are not fitted: the model
    # only decides among the questions it may answer
    items = [item for name in sets for item in sets[name]]
    groups = [name for name in sets for _ in sets[name]]
    rows: list[list[float]] = []
    labels: list[int] = []
    row_groups: list[str] = []
    for item, group in zip(items, groups, strict=True):
        lang = item.lang if item.lang in UNSURE else "fi"
        matches = matcher.match(item.text, lang)
        if not matches or not probe.answerable(matches):
            continue
        rows.append(probe.features(matches, lang))
        labels.append(int(matches[0].entry_id in item.expect))
        row_groups.append(group)
    outcomes = ["right" if y else "wrong" for y in labels]
    answerable = sum(1 for i in items if i.expect)
    tried: list[tuple[float, float, float]] = []  # (direct-and-right, penalty, threshold)
    for l2 in PENALTIES:
        oof = confidence.out_of_fold(rows, labels, repeats=REPEATS, l2=l2)
        t = confidence.choose_threshold(oof, outcomes, len(items), MAX_WRONG)
        right = sum(sum(p >= t for p in ps) for ps, y in zip(oof, labels, strict=True) if y)
        direct = right / len(oof[0]) / answerable
        print(f"  penalty {l2}: threshold {t}, cross-validated direct-and-right {direct:.1%}")
        tried.append((direct, l2, t))
    # the strongest penalty within SAME of the best: the seed alone moves the figure by about
    # that much, and a weak penalty lets collinear features (score, margin, runner-up) take
    # weights of opposite signs that say nothing outside the rows they were fitted on
    top = max(direct for direct, _, _ in tried)
    best = max((row for row in tried if row[0] >= top - SAME), key=lambda row: row[1])
    weights = confidence.fit(rows, labels, best[1])
    final = [confidence.sigmoid(confidence.dot(weights, x)) for x in rows]
    threshold = confidence.guard_threshold(
        best[2], final, outcomes, row_groups, {n: len(v) for n, v in sets.items()}, MAX_SET_WRONG
    )
    if threshold > best[2]:
        print(f"  raised to {threshold:.3f} so that no dev set goes over {MAX_SET_WRONG:.1%} wrong")
    best = (best[0], best[1], round(threshold, 4))
    calibration = confidence.Calibration(tuple(weights), best[2], UNSURE, neighbours, COVERAGE)
    confidence.save(calibration, HEADER)
    confidence.shipped.cache_clear()
    print(
        f"calibrated on {len(items)} dev questions ({len(rows)} rows, {sum(labels)} right tops): "
        f"penalty {best[1]}, threshold {best[2]}, {len(neighbours)} neighbour pairs; "
        f"written to {confidence.CALIBRATION.relative_to(ROOT)}"
    )


def by_language(match: Callable[[str, str], list[Match]], items: list[Item]) -> str:
    parts = []
    for lang in ("fi", "en", "sv"):
        mine = [i for i in items if i.lang == lang]
        answerable = [i for i in mine if i.expect]
        if not answerable:
            continue
        right = wrong = 0
        for item in mine:
            matches = match(item.text, item.lang)
            if decide(matches, item.lang) == "answer":
                if matches[0].entry_id in item.expect:
                    right += 1
                else:
                    wrong += 1
        parts.append(
            f"{lang} {right / len(answerable):5.1%} direct-and-right, "
            f"{wrong / len(mine):4.1%} wrong ({len(mine)} q)"
        )
    return "   by language: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--errors", action="store_true", help="list the dev sets' mistakes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the answer-at-once model on the dev sets, write it, and use it for this run",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the rapidfuzz baseline")
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=list(SETS),
        default=[name for name, path in SETS.items() if path.exists()],
        help="which labelled sets to run (default: all that exist)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        default=[1, 10],
        help="FAQ sizes as multiples of the shipped one (default: 1 10)",
    )
    args = parser.parse_args()
    kb = load()
    entries = list(kb.faq)
    phrasings = sum(len(e.questions.get(lang)) for e in entries for lang in ("fi", "en", "sv"))
    print(f"FAQ of {len(entries)} entries, {phrasings} phrasings")
    if args.calibrate:
        matcher = FaqMatcher(entries, kb.synonyms.concepts)
        calibrate(matcher, entries, {name: labelled(name) for name in DEV})
    cal = confidence.shipped()
    print(
        f"  answer at once from a probability of {cal.threshold} "
        f"({len(cal.neighbours)} near-neighbour pairs); 'did you mean' from a best score of "
        + ", ".join(f"{lang} {v}" for lang, v in cal.unsure.items())
    )
    print()
    for factor in args.sizes:
        faq = synthetic(entries, factor)
        start = time.perf_counter()
        matcher = FaqMatcher(faq, kb.synonyms.concepts)
        built = (time.perf_counter() - start) * 1000
        baseline = Baseline(faq)
        print(f"FAQ x{factor}: {len(faq)} entries (index built in {built:.0f} ms)")
        for name in args.sets:
            items = labelled(name)
            print(
                f" {name} set: {len(items)} questions, "
                f"{sum(1 for i in items if not i.expect)} of them off-topic"
            )
            evaluate(
                "  kierto-bot matcher",
                matcher.match,
                items,
                args.repeats,
                args.errors and factor == 1 and name in STUDIED,
            )
            if factor == 1:
                print(by_language(matcher.match, items))
            if not args.no_baseline:
                evaluate(
                    "  baseline: rapidfuzz WRatio",
                    baseline.match,
                    items,
                    max(1, args.repeats // 5),
                    False,
                )
        print()


if __name__ == "__main__":
    main()
