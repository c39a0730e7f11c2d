"""KIERTO-kartoitus scoring and tip ranking: pure functions over the questionnaire.

Rules (also in knowledge/kartoitus.yaml and the README):

- an answer scores 0..1 (its option's `score`); a checklist scores the sum of its ticked
  items, capped at 1;
- "not relevant" (`na`) leaves the question out of the denominator;
- "don't know" (`dk`) scores 0 and is listed as a data gap; a skipped question counts the
  same way, so skipping cannot raise a score; a tenant's "included in the rent" or a sole
  trader's "I work alone" is `na`, not a gap;
- `retired` questions (kept so that old answers stay readable) are never asked or scored;
- theme score = 100 × Σ(score × weight) / Σ(weight) over the theme's questions that apply
  to the company (branching) and are not "not relevant";
- overall score = mean of theme scores weighted by the profile weights and by the `weights`
  of the chosen profile options (the company's most significant impacts); themes with
  nothing to score are left out; the maturity level is the highest whose `min` it reaches;
- red flags: answers listed in a question's `red_flag.when`, for the companies its `ask_if`
  names (an employer's duty only where there are employees);
- business models: checklist items with a `model` that are ticked.

Tips are ranked by gain × ease: gain is how many overall points following the tip would add
(the answer changed to the tip's `target`, or the missing checklist item ticked), ease is
4 − effort, doubled for a tip written for the company's own trade. Ties go to higher impact.
At most one tip per question, and the best tip for the company's trade (if any fits) is always
among those returned. A tip tagged with `trades` or `sizes` is offered only to
companies that gave one of those answers: a construction firm is never told to give surplus
food to food aid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from knowledge.loader import Knowledge
from knowledge.schema import Question, Tip

Answers = Mapping[str, Any]  # question id -> option id, list of option ids, or text


@dataclass(frozen=True)
class ThemeScore:
    theme_id: str
    score: float | None  # 0..100, None when nothing in the theme applies
    asked: int  # questions that apply and are not "not relevant"


@dataclass(frozen=True)
class Result:
    themes: dict[str, ThemeScore]
    overall: float
    level: str
    red_flags: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # "don't know" or skipped
    models: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "themes": {t: s.score for t, s in self.themes.items()},
            "overall": self.overall,
            "level": self.level,
            "red_flags": self.red_flags,
            "gaps": self.gaps,
            "models": self.models,
        }


def _chosen(given: Any, values: list[str]) -> bool:
    """Whether a profile answer (one option id, or a checklist's list) is among `values`."""
    if isinstance(given, list):
        return any(v in values for v in given)
    return given in values


def _ask_if_met(ask_if: Mapping[str, list[str]], answers: Answers) -> bool:
    """Each condition needs one of its answers; a skipped profile question does not exclude."""
    return all(
        answers.get(pid) is None or _chosen(answers.get(pid), values)
        for pid, values in ask_if.items()
    )


def applies(question: Question, answers: Answers) -> bool:
    """Branching: `ask_if` needs one of the listed profile answers (asked when the profile
    question was skipped, to be safe); `skip_if` leaves the question out."""
    if question.retired or not _ask_if_met(question.ask_if, answers):
        return False
    return not any(_chosen(answers.get(pid), v) for pid, v in question.skip_if.items())


def sequence(kb: Knowledge, answers: Answers) -> list[str]:
    """The questions this company is asked, in order: profile first, then the themes."""
    # it depends only on the answers that `ask_if` / `skip_if` name, and one kartoitus
    # event asks for it several times: remembered per knowledge base and those answers
    deps, known = _branching(kb)
    key = tuple(_frozen(answers.get(pid)) for pid in deps)
    ids = known.get(key)
    if ids is None:
        if len(known) > 4096:
            known.clear()
        q = kb.questionnaire
        ids = [x.id for x in q.profile if applies(x, answers)]
        for theme in q.themes:
            ids += [x.id for x in theme.questions if applies(x, answers)]
        known[key] = ids
    return list(ids)


_BRANCHING: dict[int, tuple[Knowledge, tuple[str, ...], dict[tuple[Any, ...], list[str]]]] = {}


def _branching(kb: Knowledge) -> tuple[tuple[str, ...], dict[tuple[Any, ...], list[str]]]:
    """The question ids the branching reads, and the sequences already worked out."""
    entry = _BRANCHING.get(id(kb))
    if entry is None or entry[0] is not kb:  # a new knowledge base (tests load several)
        q = kb.questionnaire
        every = [*q.profile, *(x for theme in q.themes for x in theme.questions)]
        deps = sorted({pid for x in every for pid in (*x.ask_if, *x.skip_if)})
        if len(_BRANCHING) > 64:
            _BRANCHING.clear()
        entry = _BRANCHING[id(kb)] = (kb, tuple(deps), {})
    return entry[1], entry[2]


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def answer_score(kb: Knowledge, qid: str, value: Any) -> tuple[float | None, bool]:
    """(score 0..1 or None for "not relevant", is_data_gap) of one answer."""
    question = kb.questions[qid]
    if value is None:
        return 0.0, True  # skipped
    if question.type == "multi":
        picked = [kb.option(qid, v) for v in value]
        return min(1.0, sum(o.score or 0.0 for o in picked if o is not None)), False
    option = kb.option(qid, value)
    if option is None:
        return 0.0, True  # an answer from an older questionnaire version
    if option.na:
        return None, False
    return (option.score or 0.0), option.dk


def theme_weights(kb: Knowledge, answers: Answers) -> dict[str, float]:
    weights = {t.id: 1.0 for t in kb.questionnaire.themes}
    for rule in kb.questionnaire.profile_weights:
        if all(_chosen(answers.get(pid), values) for pid, values in rule.when.items()):
            for theme_id, weight in rule.themes.items():
                weights[theme_id] *= weight
    for question in kb.questionnaire.profile:
        given = answers.get(question.id)
        picked = given if isinstance(given, list) else [given] if given is not None else []
        for option_id in picked:
            option = kb.option(question.id, option_id)
            for theme_id, weight in option.weights.items() if option is not None else ():
                weights[theme_id] *= weight
    return weights


def score(kb: Knowledge, answers: Answers) -> Result:
    themes: dict[str, ThemeScore] = {}
    gaps: list[str] = []
    flags: list[str] = []
    models: list[str] = []
    for theme in kb.questionnaire.themes:
        total = weight_sum = 0.0
        asked = 0
        for question in theme.questions:
            if question.type == "text" or not applies(question, answers):
                continue
            value = answers.get(question.id)
            points, gap = answer_score(kb, question.id, value)
            if points is None:
                continue
            asked += 1
            total += points * question.weight
            weight_sum += question.weight
            if gap:
                gaps.append(question.id)
            flag = question.red_flag
            if flag and value in flag.when and _ask_if_met(flag.ask_if, answers):
                flags.append(question.id)
            if question.type == "multi" and value:
                for option_id in value:
                    option = kb.option(question.id, option_id)
                    if option is not None and option.model and option.model not in models:
                        models.append(option.model)
        themes[theme.id] = ThemeScore(
            theme.id, 100.0 * total / weight_sum if weight_sum else None, asked
        )
    weights = theme_weights(kb, answers)
    scored = [(weights[t], s.score) for t, s in themes.items() if s.score is not None]
    denominator = sum(w for w, _ in scored)
    overall = sum(w * s for w, s in scored) / denominator if denominator else 0.0
    level = kb.questionnaire.levels[0].id
    for candidate in kb.questionnaire.levels:
        if overall + 1e-9 >= candidate.min:
            level = candidate.id
    return Result(themes, overall, level, flags, gaps, models)


@dataclass(frozen=True)
class RankedTip:
    tip: Tip
    gain: float  # overall points gained by following the tip
    own_trade: bool = False  # written for the company's trade (tagged with it)

    @property
    def rank(self) -> float:
        return self.gain * (4 - self.tip.effort) * (2 if self.own_trade else 1)


def fits_company(tip: Tip, answers: Answers) -> bool:
    """Trade and size gates: a tagged tip needs the company to have given one of the tags
    (an unknown trade gets only the tips that fit every trade)."""
    if tip.trades and answers.get("industry") not in tip.trades:
        return False
    return not (tip.sizes and answers.get("size") not in tip.sizes)


def tip_applies(kb: Knowledge, tip: Tip, answers: Answers) -> bool:
    question = kb.questions[tip.question]
    if not applies(question, answers) or not fits_company(tip, answers):
        return False
    value = answers.get(tip.question)
    if question.type == "multi":
        picked = list(value or [])
        return tip.when_missing not in picked
    if value is None:  # skipped: the tips for "don't know" fit
        return any((o := kb.option(tip.question, w)) is not None and o.dk for w in tip.when)
    return value in tip.when


def with_tip(kb: Knowledge, tip: Tip, answers: Answers) -> dict[str, Any]:
    """The answers as they would be after following the tip."""
    changed = dict(answers)
    if kb.questions[tip.question].type == "multi":
        exclusive = {o.id for o in kb.options[tip.question] if o.exclusive}
        picked = [v for v in changed.get(tip.question) or [] if v not in exclusive]
        changed[tip.question] = [*picked, tip.when_missing]
    else:
        changed[tip.question] = tip.target
    return changed


def best_tips(kb: Knowledge, answers: Answers, n: int = 3) -> list[RankedTip]:
    base = score(kb, answers).overall
    best: dict[str, RankedTip] = {}
    for tip in kb.tips:
        if not tip_applies(kb, tip, answers):
            continue
        gain = score(kb, with_tip(kb, tip, answers)).overall - base
        if gain <= 1e-9:
            continue
        ranked = RankedTip(tip, gain, bool(tip.trades))
        current = best.get(tip.question)
        if current is None or _key(ranked) > _key(current):
            best[tip.question] = ranked
    ranked_tips = sorted(best.values(), key=_key, reverse=True)
    top = ranked_tips[:n]
    # One step written for the company's own trade always makes the list when one fits: a
    # café should see its food waste among its three steps, not only what every office hears.
    own = next((r for r in ranked_tips if r.own_trade), None)
    if own is not None and own not in top and n > 0:
        top = sorted([*top[: n - 1], own], key=_key, reverse=True)
    return top


def _key(r: RankedTip) -> tuple[float, int, float]:
    return (round(r.rank, 6), r.tip.impact, r.gain)
