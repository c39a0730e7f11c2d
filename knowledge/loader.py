"""Load and check the YAML knowledge base, reporting every problem as `file:line: message`.

Validation runs once, at start (the bot refuses to start on a broken knowledge base) and in
`kierto-bot kb check` for content editors. Schema errors come from pydantic; the checks
here add what a schema cannot see: duplicate keys, unique ids, references between files,
placeholders that no text may use. A *warning* (the operator profile is still the shipped
example) is reported but does not stop the bot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from knowledge import operator as op
from knowledge.operator import fill
from knowledge.schema import (
    FaqBook,
    FaqEntry,
    L10n,
    Operator,
    OperatorFile,
    Option,
    Placement,
    PlacementBook,
    Question,
    Questionnaire,
    Service,
    ServiceBook,
    SynonymBook,
    Theme,
    Tip,
    TipBook,
)

# libyaml's parser when PyYAML was built with it (the wheels are): the same nodes, with
# their line numbers, about ten times faster than the pure-Python one, which took most of
# a replica's start-up
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_DIR = Path(__file__).resolve().parent
FILES: dict[str, type[BaseModel]] = {
    "kartoitus.yaml": Questionnaire,
    "tips.yaml": TipBook,
    "services.yaml": ServiceBook,
    "placements.yaml": PlacementBook,
    "faq.yaml": FaqBook,
    "synonyms.yaml": SynonymBook,
    "operator.yaml": OperatorFile,
}
M = TypeVar("M", bound=BaseModel)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    warning: bool = False  # reported, but the knowledge base still loads

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{self.message}"


class KnowledgeError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class _Source:
    """One parsed file: the data and the line of every value in it."""

    name: str
    data: Any = None
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


def _walk(node: yaml.Node, path: Path_, src: _Source, problems: list[Problem]) -> None:
    src.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(src.name, key_node.start_mark.line + 1, f"duplicate key {key!r}")
                )
            seen.add(key)
            _walk(value_node, (*path, key), src, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), src, problems)


def _parse(path: Path, problems: list[Problem]) -> _Source:
    src = _Source(path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(src.name, 1, "file is missing"))
        return src
    except UnicodeDecodeError as exc:
        problems.append(Problem(src.name, 1, f"not UTF-8 text ({exc.reason})"))
        return src
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(Problem(src.name, 1, "file is empty"))
            return src
        _walk(node, (), src, problems)
        src.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(src.name, line, f"YAML syntax: {exc.problem or exc}"))
    finally:
        loader.dispose()
    return src


def _validate(src: _Source, model: type[M], problems: list[Problem]) -> M | None:
    if src.data is None:
        return None
    try:
        return model.model_validate(src.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(str(p) for p in loc) or "(top)"
            problems.append(Problem(src.name, src.line(loc), f"{where}: {error['msg']}"))
        return None


def _duplicates(ids: list[tuple[str, Path_]], src: _Source, what: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for id_, path in ids:
        if id_ in seen:
            yield Problem(src.name, src.line(path), f"duplicate {what} id {id_!r}")
        seen.add(id_)


@dataclass(frozen=True)
class Knowledge:
    """The validated knowledge base, with lookups the flows need."""

    questionnaire: Questionnaire
    tips: tuple[Tip, ...]
    services: dict[str, Service]
    placements: PlacementBook
    faq: tuple[FaqEntry, ...]
    operator: Operator
    synonyms: SynonymBook = field(default_factory=SynonymBook)
    example_operator: bool = False  # operator.yaml is still the shipped example
    questions: dict[str, Question] = field(default_factory=dict)
    options: dict[str, tuple[Option, ...]] = field(default_factory=dict)
    theme_of: dict[str, Theme] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        q: Questionnaire,
        tips: TipBook,
        services: ServiceBook,
        placements: PlacementBook,
        faq: FaqBook,
        operator: OperatorFile,
        synonyms: SynonymBook | None = None,
    ) -> Knowledge:
        # {operator} and {contact} are filled in once, here, in every language
        op_ = operator.operator
        q, tips, services, placements, faq = (
            op.fill_all(book, op_) for book in (q, tips, services, placements, faq)
        )
        questions, options, theme_of = _index(q)
        return cls(
            questionnaire=q,
            tips=tuple(tips.tips),
            services={s.id: s for s in services.services},
            placements=placements,
            faq=tuple(faq.faq),
            operator=operator.operator,
            synonyms=synonyms or SynonymBook(),
            example_operator=operator.example,
            questions=questions,
            options=options,
            theme_of=theme_of,
        )

    def option(self, question_id: str, option_id: str) -> Option | None:
        return next((o for o in self.options.get(question_id, ()) if o.id == option_id), None)

    def placement(self, placement_id: str) -> Placement | None:
        return next((p for p in self.placements.placements if p.id == placement_id), None)

    # Texts with the operator's values: every user-facing YAML text should pass through one of
    # these two, so that `{operator}` and `{contact}` never reach a user as such.

    def text(self, value: L10n, lang: str) -> str:
        """`value` in `lang` with the operator placeholders filled in."""
        return fill(value.get(lang), self.operator, lang)

    def fill(self, text: str, lang: str) -> str:
        """A text already in `lang` with the operator placeholders filled in."""
        return fill(text, self.operator, lang)

    @property
    def staff_answer(self) -> bool:
        """Whether a person answers through the bot; if not, no text may promise one."""
        return self.operator.staff_answer


def _index(
    q: Questionnaire,
) -> tuple[dict[str, Question], dict[str, tuple[Option, ...]], dict[str, Theme]]:
    """Questions by id, their options (inline or from a scale) and their themes."""
    questions: dict[str, Question] = {x.id: x for x in q.profile}
    theme_of: dict[str, Theme] = {}
    for theme in q.themes:
        for question in theme.questions:
            questions[question.id] = question
            theme_of[question.id] = theme
    options = {
        qid: tuple(q.scales.get(x.scale, []) if x.scale else x.options)
        for qid, x in questions.items()
    }
    return questions, options, theme_of


def _check_kartoitus(q: Questionnaire, src: _Source) -> Iterator[Problem]:
    P = Problem
    yield from _duplicates([(t.id, ("themes", i)) for i, t in enumerate(q.themes)], src, "theme")
    all_q: list[tuple[Question, Path_]] = [(x, ("profile", i)) for i, x in enumerate(q.profile)]
    for ti, theme in enumerate(q.themes):
        all_q += [(x, ("themes", ti, "questions", i)) for i, x in enumerate(theme.questions)]
    yield from _duplicates([(x.id, p) for x, p in all_q], src, "question")
    profile = {x.id: x for x in q.profile}
    theme_ids = {t.id for t in q.themes}
    model_ids = {m.id for m in q.models}
    for sid, scale in q.scales.items():
        yield from _duplicates(
            [(o.id, ("scales", sid, i)) for i, o in enumerate(scale)], src, "option"
        )
    for question, path in all_q:
        scored = question.id not in profile
        if question.scale and question.scale not in q.scales:
            yield P(src.name, src.line((*path, "scale")), f"unknown scale {question.scale!r}")
            continue
        if question.scale and question.options:
            yield P(src.name, src.line(path), f"{question.id}: give either scale or options")
        opts = q.scales.get(question.scale, []) if question.scale else question.options
        yield from _duplicates(
            [(o.id, (*path, "options", i)) for i, o in enumerate(question.options)], src, "option"
        )
        if question.type == "text":
            if opts:
                yield P(src.name, src.line(path), f"{question.id}: a text question has no options")
        elif not opts:
            yield P(src.name, src.line(path), f"{question.id}: no options")
        ids = {o.id for o in opts}
        for i, o in enumerate(opts):
            where = src.line((*path, "options", i)) if question.options else src.line(path)
            if not scored and o.score is not None:
                yield P(src.name, where, f"{question.id}.{o.id}: profile options have no score")
            if scored and o.score is None and not (o.na or o.dk) and question.type != "text":
                yield P(src.name, where, f"{question.id}.{o.id}: a scored option needs a score")
            if o.model and o.model not in model_ids:
                yield P(src.name, where, f"{question.id}.{o.id}: unknown model {o.model!r}")
            if o.exclusive and question.type != "multi":
                yield P(src.name, where, f"{question.id}.{o.id}: exclusive is for checklists")
            if o.weights and scored:
                yield P(src.name, where, f"{question.id}.{o.id}: weights are for profile options")
            for tid in o.weights:
                if tid not in theme_ids:
                    yield P(src.name, where, f"{question.id}.{o.id}: unknown theme {tid!r}")
        conditions = [(key, getattr(question, key), (*path, key)) for key in ("ask_if", "skip_if")]
        if question.red_flag:
            conditions.append(("red_flag.ask_if", question.red_flag.ask_if, (*path, "red_flag")))
        for key, condition, cpath in conditions:
            for pid, values in condition.items():
                where = src.line((*cpath, pid))
                if pid not in profile:
                    yield P(
                        src.name,
                        where,
                        f"{question.id}: {key} names unknown profile question {pid!r}",
                    )
                    continue
                known = {o.id for o in q.scales.get(profile[pid].scale or "", profile[pid].options)}
                for value in values:
                    if value not in known:
                        yield P(src.name, where, f"{question.id}: {pid} has no option {value!r}")
        if question.red_flag:
            for value in question.red_flag.when:
                if value not in ids:
                    yield P(
                        src.name,
                        src.line((*path, "red_flag")),
                        f"{question.id}: red flag names unknown option {value!r}",
                    )
    for i, weight in enumerate(q.profile_weights):
        for pid, values in weight.when.items():
            if pid not in profile:
                yield P(
                    src.name,
                    src.line(("profile_weights", i, "when")),
                    f"unknown profile question {pid!r}",
                )
            else:
                known = {o.id for o in q.scales.get(profile[pid].scale or "", profile[pid].options)}
                for value in values:
                    if value not in known:
                        yield P(
                            src.name,
                            src.line(("profile_weights", i, "when")),
                            f"{pid} has no option {value!r}",
                        )
        for tid in weight.themes:
            if tid not in theme_ids:
                yield P(
                    src.name, src.line(("profile_weights", i, "themes")), f"unknown theme {tid!r}"
                )
    mins = [level.min for level in q.levels]
    if mins[0] != 0 or any(b <= a for a, b in itertools.pairwise(mins)):
        yield P(src.name, src.line(("levels",)), "levels must start at min 0 and ascend")
    yield from _duplicates([(lv.id, ("levels", i)) for i, lv in enumerate(q.levels)], src, "level")


def _check_tips(
    tips: TipBook, q: Questionnaire, services: set[str] | None, src: _Source
) -> Iterator[Problem]:
    """Each tip against the questionnaire (and the services, when those loaded)."""
    questions, options, theme_of = _index(q)
    yield from _duplicates([(t.id, ("tips", i)) for i, t in enumerate(tips.tips)], src, "tip")
    for i, tip in enumerate(tips.tips):

        def at(*key: str | int, i: int = i) -> int:
            return src.line(("tips", i, *key))

        question = questions.get(tip.question)
        theme = theme_of.get(tip.question)
        if question is None or theme is None:
            yield Problem(
                src.name, at("question"), f"{tip.id}: unknown scored question {tip.question!r}"
            )
            continue
        if question.retired:
            yield Problem(src.name, at("question"), f"{tip.id}: question {tip.question} is retired")
        for key, pid in (("trades", "industry"), ("sizes", "size")):
            known = {o.id for o in options.get(pid, ())}
            for j, value in enumerate(getattr(tip, key)):
                if value not in known:
                    yield Problem(src.name, at(key, j), f"{tip.id}: {pid} has no option {value!r}")
        if theme.id != tip.theme:
            yield Problem(
                src.name,
                at("theme"),
                f"{tip.id}: question {tip.question} belongs to theme {theme.id}, not {tip.theme}",
            )
        ids = {o.id for o in options[tip.question]}
        if question.type == "multi":
            if not tip.when_missing or tip.when or tip.target:
                yield Problem(src.name, at(), f"{tip.id}: a checklist tip uses when_missing only")
            elif tip.when_missing not in ids:
                yield Problem(
                    src.name, at("when_missing"), f"{tip.id}: unknown option {tip.when_missing!r}"
                )
        elif question.type == "single":
            if not tip.when or not tip.target or tip.when_missing:
                yield Problem(
                    src.name,
                    at(),
                    f"{tip.id}: a tip on a single-choice question needs when and target",
                )
            for j, value in enumerate(tip.when):
                if value not in ids:
                    yield Problem(src.name, at("when", j), f"{tip.id}: unknown option {value!r}")
            if tip.target and tip.target not in ids:
                yield Problem(src.name, at("target"), f"{tip.id}: unknown option {tip.target!r}")
            if tip.target in tip.when:
                yield Problem(
                    src.name, at("target"), f"{tip.id}: target is one of the when answers"
                )
        else:
            yield Problem(
                src.name, at("question"), f"{tip.id}: tips cannot refer to a text question"
            )
        for j, sid in enumerate(tip.services):
            if services is not None and sid not in services:
                yield Problem(src.name, at("services", j), f"{tip.id}: unknown service {sid!r}")


def _check_placements(book: PlacementBook, src: _Source) -> Iterator[Problem]:
    yield from _duplicates(
        [(p.id, ("partners", i)) for i, p in enumerate(book.partners)], src, "partner"
    )
    yield from _duplicates(
        [(t.id, ("interests", i)) for i, t in enumerate(book.interests)], src, "interest"
    )
    yield from _duplicates([(t.id, ("skills", i)) for i, t in enumerate(book.skills)], src, "skill")
    yield from _duplicates(
        [(p.id, ("placements", i)) for i, p in enumerate(book.placements)], src, "placement"
    )
    partners = {p.id for p in book.partners}
    interests = {t.id for t in book.interests}
    skills = {t.id for t in book.skills}
    for i, p in enumerate(book.placements):
        if p.partner is not None and p.partner not in partners:
            yield Problem(
                src.name,
                src.line(("placements", i, "partner")),
                f"{p.id}: unknown partner {p.partner!r}",
            )
        for j, tag in enumerate(p.interests):
            if tag not in interests:
                yield Problem(
                    src.name,
                    src.line(("placements", i, "interests", j)),
                    f"{p.id}: unknown interest {tag!r}",
                )
        for j, tag in enumerate(p.skills):
            if tag not in skills:
                yield Problem(
                    src.name,
                    src.line(("placements", i, "skills", j)),
                    f"{p.id}: unknown skill {tag!r}",
                )


def _check_faq(faq: FaqBook, known: set[str], src: _Source) -> Iterator[Problem]:
    ids = [(e.id, ("faq", i)) for i, e in enumerate(faq.faq)]
    ids += [
        (old, ("faq", i, "formerly", j))
        for i, e in enumerate(faq.faq)
        for j, old in enumerate(e.formerly)
    ]
    yield from _duplicates(ids, src, "FAQ")
    for i, entry in enumerate(faq.faq):
        for j, ref in enumerate(entry.related):
            if ref not in known:
                yield Problem(
                    src.name,
                    src.line(("faq", i, "related", j)),
                    f"{entry.id}: related names unknown placement or service {ref!r}",
                )


def _check_synonyms(book: SynonymBook, src: _Source) -> Iterator[Problem]:
    yield from _duplicates(
        [(c.id, ("concepts", i)) for i, c in enumerate(book.concepts)], src, "concept"
    )
    seen: dict[tuple[str, str], str] = {}
    for i, concept in enumerate(book.concepts):
        for lang in ("fi", "en", "sv"):
            for j, term in enumerate(concept.get(lang)):
                key = (lang, " ".join(term.casefold().split()))
                if key in seen and seen[key] != concept.id:
                    yield Problem(
                        src.name,
                        src.line(("concepts", i, lang, j)),
                        f"{term!r} is already in concept {seen[key]!r}",
                    )
                seen.setdefault(key, concept.id)


def _check_placeholders(sources: dict[str, _Source]) -> Iterator[Problem]:
    """Only `{operator}` and `{contact}` may appear in a text; the example's `[[…]]` warn."""
    known = ", ".join("{" + name + "}" for name in op.PLACEHOLDERS)
    for name, src in sources.items():
        for path, placeholder in op.unknown_placeholders(src.data):
            yield Problem(
                name, src.line(path), f"unknown placeholder {{{placeholder}}} (known: {known})"
            )
    src = sources["operator.yaml"]
    if isinstance(src.data, dict) and src.data.get("example") is True:
        yield Problem(
            src.name,
            src.line(("example",)),
            "this is the example operator profile: fill it in and set example: false",
            warning=True,
        )
    for path, marker in op.example_markers(src.data):
        yield Problem(src.name, src.line(path), f"placeholder left: {marker}", warning=True)


def check(directory: Path = DEFAULT_DIR) -> tuple[Knowledge | None, list[Problem]]:
    """Parse, validate and cross-check every file; return the knowledge and the problems.

    The knowledge is returned when every problem is a warning."""
    problems: list[Problem] = []
    sources = {name: _parse(directory / name, problems) for name in FILES}
    models = {name: _validate(src, FILES[name], problems) for name, src in sources.items()}
    q, tips, services, placements, faq, synonyms, operator = (models[name] for name in FILES)
    if isinstance(q, Questionnaire):
        problems += _check_kartoitus(q, sources["kartoitus.yaml"])
    service_ids: set[str] | None = None
    if isinstance(services, ServiceBook):
        ssrc = sources["services.yaml"]
        problems += _duplicates(
            [(s.id, ("services", i)) for i, s in enumerate(services.services)], ssrc, "service"
        )
        service_ids = {s.id for s in services.services}
        themes = {t.id for t in q.themes} if isinstance(q, Questionnaire) else set()
        for i, s in enumerate(services.services):
            for tid in s.themes:
                if themes and tid not in themes:
                    problems.append(
                        Problem(
                            ssrc.name,
                            ssrc.line(("services", i, "themes")),
                            f"{s.id}: unknown theme {tid!r}",
                        )
                    )
    if isinstance(placements, PlacementBook):
        problems += _check_placements(placements, sources["placements.yaml"])
    if (
        isinstance(faq, FaqBook)
        and isinstance(placements, PlacementBook)
        and service_ids is not None
    ):
        known = service_ids | {p.id for p in placements.placements}
        problems += _check_faq(faq, known, sources["faq.yaml"])
    if isinstance(synonyms, SynonymBook):
        problems += _check_synonyms(synonyms, sources["synonyms.yaml"])
    if isinstance(q, Questionnaire) and isinstance(tips, TipBook):
        problems += _check_tips(tips, q, service_ids, sources["tips.yaml"])
    problems += _check_placeholders(sources)
    errors = [p for p in problems if not p.warning]
    if errors or not all(isinstance(m, BaseModel) for m in models.values()):
        return None, problems
    assert isinstance(operator, OperatorFile)
    return Knowledge.build(q, tips, services, placements, faq, operator, synonyms), problems


def load(directory: Path = DEFAULT_DIR) -> Knowledge:
    """The knowledge base, or `KnowledgeError` listing every problem (warnings do not stop it)."""
    knowledge, problems = check(directory)
    if knowledge is None:
        raise KnowledgeError(problems or [Problem("knowledge", 1, "could not be loaded")])
    return knowledge
