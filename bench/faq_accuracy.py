"""FAQ matcher benchmark: accuracy on labelled questions it has never seen, and latency.

    .venv/bin/python bench/faq_accuracy.py              # shipped FAQ and a 10x larger one
    .venv/bin/python bench/faq_accuracy.py --errors     # also list the dev sets' mistakes
    .venv/bin/python bench/faq_accuracy.py --calibrate  # per-language thresholds from dev

Four labelled sets. `dev`, on which the matcher, its synonym table and its thresholds were
tuned (its mistakes were read), and `held-out`, written independently by someone who saw
neither the dev set nor the matcher: only its figures are looked at, so they are the honest
ones. `colloquial-dev` and `colloquial-test`: Finnish as young people type it, written by
someone who had not seen the FAQ's phrasings; the dev half's mistakes may be read, the test
half's never.

Prints, for kierto-bot's matcher and for a plain rapidfuzz baseline measured in the same
run (WRatio over the raw phrasings, same thresholds policy):
- top-1 accuracy over answerable questions (the best entry is a right one),
- direct-and-right: answerable questions answered at once with a right entry,
- the decision accuracy (answered right, or correctly said "I don't know" for off-topic),
- wrong confident answers (answered at once, but wrongly) as a share of all questions,
- how often it asks "did you mean" and how often the right entry is among those buttons,
- match latency, median and p99 (every question matched several times).
The 10x FAQ adds nine synthetic entries per real one, made of real words from the answers
in shuffled order, so the vocabulary and the index grow as they would.
"""

from __future__ import annotations

import argparse
import itertools
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

from dialogs.faq_match import THRESHOLDS, FaqMatcher, Match, Thresholds, words  # noqa: E402
from dialogs.faq_match import decide as decide_lang  # noqa: E402
from knowledge.loader import load  # noqa: E402
from knowledge.schema import FaqEntry, L10nList  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = {
    "dev": DATA / "faq_labelled.yaml",  # used to tune the matcher: its mistakes were studied
    "held-out": DATA / "faq_heldout.yaml",  # written independently; only its figures are read
    "colloquial-dev": DATA / "faq_colloquial_dev.yaml",  # spoken Finnish; mistakes studied
    "colloquial-test": DATA / "faq_colloquial_test.yaml",  # spoken Finnish; figures only
}
STUDIED = {"dev", "colloquial-dev"}  # the only sets whose mistakes --errors may print
LIMITS = THRESHOLDS  # replaced by --calibrate's result for the run that calibrates


def decide(matches: list[Match], lang: str) -> str:
    return (
        decide_lang(matches, lang)
        if LIMITS is THRESHOLDS
        else _decide(matches, LIMITS.get(lang, LIMITS["fi"]))
    )


def _decide(matches: list[Match], limits: Thresholds) -> str:
    if not matches or matches[0].score < limits.unsure:
        return "unknown"
    runner_up = matches[1].score if len(matches) > 1 else 0.0
    if (
        matches[0].score >= limits.confident
        and matches[0].score - runner_up >= limits.margin
        and matches[0].coverage >= limits.coverage
    ):
        return "answer"
    return "suggest"


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
    timings = []
    for _ in range(repeats):
        for item in items:
            start = time.perf_counter()
            match(item.text, item.lang)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    result = {
        "top1": top1 / len(answerable),
        "direct": direct_right / len(answerable),
        "decided": decided_right / len(items),
        "wrong_confident": wrong_confident / len(items),
        "suggested": suggested / len(items),
        "suggest_hit": suggested_hit / max(1, suggested),
        "p50_ms": statistics.median(timings),
        "p99_ms": timings[int(len(timings) * 0.99) - 1],
    }
    print(
        f"{name:<30} top-1 {result['top1']:6.1%}  direct-and-right {result['direct']:6.1%}  "
        f"decided right {result['decided']:6.1%}  "
        f"wrong confident {result['wrong_confident']:5.1%}  "
        f"did-you-mean {result['suggested']:5.1%} "
        f"(right one offered {result['suggest_hit']:5.1%})  "
        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
    )
    if show_errors:
        for line in errors:
            print("   ", line)
    return result


SAFETY = 0.05  # a wrong answer this close to the thresholds counts as answered (see below)


def calibrate(matcher: FaqMatcher, items: list[Item]) -> dict[str, Thresholds]:
    """Per language, the thresholds that answer the most of that language's dev questions at
    once and rightly, while no more than 1 % of all dev questions would get a wrong confident
    answer; on a tie, the stricter ones. Only the dev set is ever passed here.

    Wrong tops are few per language (an off-topic question scores alike in any language), so
    the wrong side is judged on the wrong tops of all languages together, and a wrong answer
    scoring within SAFETY of the thresholds (score and margin) counts as if it had been
    given: thresholds that just clear the dev set's wrong answers would be overfitted."""
    out: dict[str, Thresholds] = {}
    matched = [(i, matcher.match(i.text, i.lang)) for i in items]
    wrong_tops = [(i, m) for i, m in matched if m and m[0].entry_id not in i.expect]
    allowed = int(0.01 * len(matched))
    for lang in ("fi", "en", "sv"):
        rows = [(i, m) for i, m in matched if i.lang == lang and m and m[0].entry_id in i.expect]
        best: tuple[tuple[int, int, int, int], Thresholds] | None = None
        for c, m, r in itertools.product(range(30, 96, 2), range(0, 32, 2), range(0, 96, 5)):
            unsure = min(THRESHOLDS[lang].unsure, c / 100)
            limits = Thresholds(c / 100, m / 100, unsure, r / 100)
            near = Thresholds(c / 100 - SAFETY, m / 100 - SAFETY, 0.0, r / 100 - SAFETY)
            wrong = sum(_decide(ms, near) == "answer" for _, ms in wrong_tops)
            if wrong > allowed:
                continue
            right = sum(_decide(ms, limits) == "answer" for _, ms in rows)
            if best is None or (right, c, m, r) > best[0]:
                best = ((right, c, m, r), limits)
        assert best is not None
        out[lang] = best[1]
        print(
            f"calibrated {lang} on {len(rows)} dev questions: {best[1]} "
            f"({best[0][0]} answered at once and rightly; of all languages' "
            f"{len(wrong_tops)} wrong tops at most {allowed} within {SAFETY} of the thresholds)"
        )
    return out


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
    global LIMITS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--errors", action="store_true", help="list the dev sets' mistakes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="choose per-language thresholds on the dev set and use them for this run",
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
        LIMITS = calibrate(FaqMatcher(entries, kb.synonyms.concepts), labelled("dev"))
    for lang, limits in LIMITS.items():
        print(
            f"  {lang}: answer at {limits.confident} with a margin of {limits.margin} "
            f"covering {limits.coverage:.0%} of the question, 'did you mean' from {limits.unsure}"
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
