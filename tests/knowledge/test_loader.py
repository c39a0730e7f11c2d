"""The knowledge loader and `kierto-bot kb check`: the shipped knowledge base is clean, and
every kind of mistake a content editor can make is reported as `file:line: message`, with
the file and the line where the mistake is, all of them at once.

Each test copies knowledge/*.yaml to a temporary folder and breaks the copy by replacing a
piece of text; the expected line is computed from where that text is in the file, so the
tests keep working when the content around it changes.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.config import Settings
from knowledge.loader import (
    DEFAULT_DIR,
    FILES,
    Knowledge,
    KnowledgeError,
    Problem,
    SafeLoader,
    check,
    load,
)

FILLED_OPERATOR = Path(__file__).with_name("operator_filled.yaml")


class KbCopy:
    """A copy of the shipped knowledge base that a test may break."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        root.mkdir()
        for name in FILES:
            shutil.copy(DEFAULT_DIR / name, root / name)
        # a filled-in operator profile: the shipped example only warns, tested on its own
        shutil.copy(FILLED_OPERATOR, root / "operator.yaml")

    def text(self, name: str) -> str:
        return (self.dir / name).read_text(encoding="utf-8")

    def line_of(self, name: str, needle: str) -> int:
        """1-based line where the first occurrence of `needle` starts."""
        text = self.text(name)
        assert needle in text, f"{needle!r} is not in {name}; did the shipped content change?"
        return text[: text.index(needle)].count("\n") + 1

    def edit(self, name: str, old: str, new: str) -> int:
        """Replace the first `old` with `new`; return the line where `old` started."""
        line = self.line_of(name, old)
        text = self.text(name)
        (self.dir / name).write_text(text.replace(old, new, 1), encoding="utf-8")
        return line

    def problems(self) -> list[Problem]:
        knowledge, problems = check(self.dir)
        if problems:
            assert knowledge is None, "a knowledge base with problems must not be returned"
        return problems


@pytest.fixture
def kb_copy(tmp_path: Path) -> KbCopy:
    return KbCopy(tmp_path / "knowledge")


def only(problems: list[Problem], file: str) -> list[Problem]:
    return [p for p in problems if p.file == file]


def find(problems: list[Problem], text: str) -> Problem:
    hits = [p for p in problems if text in p.message]
    assert len(hits) == 1, f"expected one problem saying {text!r}, got: {list(map(str, problems))}"
    return hits[0]


# --------------------------------------------------------------------------- shipped KB


def test_shipped_knowledge_base_has_no_errors_only_the_example_operator_warnings() -> None:
    knowledge, problems = check(DEFAULT_DIR)
    assert [str(p) for p in problems if not p.warning] == []
    assert problems and {p.file for p in problems} == {"operator.yaml"}
    assert isinstance(knowledge, Knowledge)


def test_shipped_knowledge_base_is_complete_and_consistent(kb: Knowledge) -> None:
    assert kb.questionnaire.themes and kb.tips and kb.services and kb.faq
    assert kb.placements.placements and kb.synonyms.concepts
    # every tip refers to a scored question of its own theme and to its options
    for tip in kb.tips:
        assert kb.theme_of[tip.question].id == tip.theme
        ids = {o.id for o in kb.options[tip.question]}
        assert set(tip.when) <= ids
        assert tip.target is None or tip.target in ids
    # levels start at 0 and strictly ascend
    mins = [level.min for level in kb.questionnaire.levels]
    assert mins[0] == 0 and all(a < b for a, b in itertools.pairwise(mins))


def test_an_untouched_copy_has_no_problems(kb_copy: KbCopy) -> None:
    """The baseline of every test below: only the test's own edit causes problems."""
    assert [str(p) for p in kb_copy.problems()] == []


def test_problem_is_printed_as_file_line_message() -> None:
    assert str(Problem("tips.yaml", 12, "st1_goals: oops")) == "tips.yaml:12: st1_goals: oops"


# --------------------------------------------------------------------------- one mistake each


def test_yaml_syntax_error(kb_copy: KbCopy) -> None:
    line = kb_copy.edit("faq.yaml", "    topic: workshops\n", "    topic: workshops: oops\n")
    problems = kb_copy.problems()
    # libyaml (the wheels' parser) and PyYAML's own word it differently
    said = "in this context" if SafeLoader is yaml.CSafeLoader else "here"
    assert [str(p) for p in problems] == [
        f"faq.yaml:{line}: YAML syntax: mapping values are not allowed {said}"
    ]


def test_unclosed_quote_is_a_syntax_error_in_its_file(kb_copy: KbCopy) -> None:
    kb_copy.edit("services.yaml", "services:\n", 'services: "unclosed\n')
    problems = kb_copy.problems()
    assert problems and all(p.file == "services.yaml" for p in problems[:1])
    assert problems[0].message.startswith("YAML syntax:")


def test_duplicate_key(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "placements.yaml",
        "    partner: nextiili\n",
        "    partner: nextiili\n    partner: nextiili\n",
    )
    problems = kb_copy.problems()
    assert [str(p) for p in problems] == [f"placements.yaml:{line + 1}: duplicate key 'partner'"]


def test_duplicate_key_in_a_flow_mapping(kb_copy: KbCopy) -> None:
    old = "    label: {fi: Ruoka ja keittiö, en: Food and kitchen, sv: Mat och kök}\n"
    line = kb_copy.edit(
        "placements.yaml",
        old,
        "    label: {fi: Ruoka ja keittiö, en: Food, en: Food and kitchen, sv: Mat och kök}\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [f"placements.yaml:{line}: duplicate key 'en'"]


def test_missing_sv_text(kb_copy: KbCopy) -> None:
    title = kb_copy.line_of("tips.yaml", "    title:\n")
    kb_copy.edit("tips.yaml", "      sv: Skriv in miljömål i affärsplanen\n", "")
    problem = find(kb_copy.problems(), "tips.0.title.sv")
    assert problem.file == "tips.yaml"
    assert problem.message == "tips.0.title.sv: Field required"
    # the `title:` key or the first line of its block (where its fi text is)
    assert problem.line in (title, title + 1)


def test_missing_sv_in_a_one_line_label(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "placements.yaml",
        "    label: {fi: Ruoka ja keittiö, en: Food and kitchen, sv: Mat och kök}\n",
        "    label: {fi: Ruoka ja keittiö, en: Food and kitchen}\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"placements.yaml:{line}: interests.1.label.sv: Field required"
    ]


def test_blank_sv_text(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "tips.yaml", "      sv: Skriv in miljömål i affärsplanen\n", '      sv: "   "\n'
    )
    problem = find(kb_copy.problems(), "tips.0.title.sv")
    assert (problem.file, problem.line) == ("tips.yaml", line)
    assert "at least 1 character" in problem.message


def test_unknown_field(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "placements.yaml", "    partner: nextiili\n", "    partner: nextiili\n    colour: red\n"
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"placements.yaml:{line + 1}: placements.0.colour: Extra inputs are not permitted"
    ]


def test_misspelt_field_in_a_question(kb_copy: KbCopy) -> None:
    line = kb_copy.edit("kartoitus.yaml", "        weight: 2\n", "        wieght: 2\n")
    assert [str(p) for p in kb_copy.problems()] == [
        f"kartoitus.yaml:{line}: themes.0.questions.0.wieght: Extra inputs are not permitted"
    ]


def test_duplicate_question_id(kb_copy: KbCopy) -> None:
    line = kb_copy.edit("kartoitus.yaml", "      - id: st2\n", "      - id: st1\n")
    problem = find(kb_copy.problems(), "duplicate question id 'st1'")
    assert (problem.file, problem.line) == ("kartoitus.yaml", line)


def test_a_merged_faq_id_cannot_live_on_as_an_entry(kb_copy: KbCopy) -> None:
    """An id under `formerly` resolves old buttons to the entry it was merged into: it must
    not be another entry's id too."""
    line = kb_copy.edit("faq.yaml", "formerly: [p_agentti]", "formerly: [p_agentti, third_sector]")
    problem = find(kb_copy.problems(), "duplicate FAQ id 'third_sector'")
    assert (problem.file, problem.line) == ("faq.yaml", line)


def test_tip_naming_an_unknown_question(kb_copy: KbCopy) -> None:
    line = kb_copy.edit("tips.yaml", "    question: st1\n", "    question: st99\n")
    assert [str(p) for p in kb_copy.problems()] == [
        f"tips.yaml:{line}: st1_goals: unknown scored question 'st99'"
    ]


def test_tip_naming_a_profile_question(kb_copy: KbCopy) -> None:
    """A profile question exists but is not scored: a tip cannot be about it."""
    line = kb_copy.edit("tips.yaml", "    question: st1\n", "    question: industry\n")
    problems = kb_copy.problems()
    assert [str(p) for p in problems] == [
        f"tips.yaml:{line}: st1_goals: unknown scored question 'industry'"
    ]


def test_tip_naming_an_unknown_option(kb_copy: KbCopy) -> None:
    line = kb_copy.edit("tips.yaml", "    when: [m1, m2, dk]\n", "    when: [m1, m9, dk]\n")
    assert [str(p) for p in kb_copy.problems()] == [
        f"tips.yaml:{line}: st1_goals: unknown option 'm9'"
    ]


def test_tip_whose_theme_does_not_match_its_question(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "tips.yaml",
        "    theme: strategy\n    question: st1\n",
        "    theme: energy\n    question: st1\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"tips.yaml:{line}: st1_goals: question st1 belongs to theme strategy, not energy"
    ]


def test_placement_naming_an_unknown_interest(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "placements.yaml",
        "    interests: [textiles, crafts, environment]\n",
        "    interests: [textiles, knitting, environment]\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"placements.yaml:{line}: nextiili_textiles: unknown interest 'knitting'"
    ]


def test_placement_interest_on_its_own_line(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "placements.yaml",
        "    interests: [textiles, crafts, environment]\n",
        "    interests:\n      - textiles\n      - crafts\n      - knitting\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"placements.yaml:{line + 3}: nextiili_textiles: unknown interest 'knitting'"
    ]


def test_faq_related_id_that_does_not_exist(kb_copy: KbCopy) -> None:
    line = kb_copy.edit(
        "faq.yaml",
        "    related: [nextiili_textiles, ravintola_kierto, uusio_upcycling]\n",
        "    related: [nextiili_textiles, no_such_place, uusio_upcycling]\n",
    )
    assert [str(p) for p in kb_copy.problems()] == [
        f"faq.yaml:{line}: tyopaja_what: related names unknown placement or service 'no_such_place'"
    ]


@pytest.mark.parametrize("term", ["pajat", "PAJAT", "'  Pajat '"])
def test_synonym_in_two_concepts(kb_copy: KbCopy, term: str) -> None:
    line = kb_copy.edit(
        "synonyms.yaml",
        "    fi: [haastepaja, haastepajamalli]\n",
        f"    fi: [haastepaja, {term}]\n",
    )
    problems = kb_copy.problems()
    assert len(problems) == 1, [str(p) for p in problems]
    assert (problems[0].file, problems[0].line) == ("synonyms.yaml", line)
    assert problems[0].message.endswith("is already in concept 'workshop'")


def test_the_same_word_in_two_languages_is_not_a_clash(kb_copy: KbCopy) -> None:
    """Terms clash only within one language: 'workshop' may be English and Swedish."""
    kb_copy.edit(
        "synonyms.yaml", "    sv: [utmaningsverkstad]\n", "    sv: [utmaningsverkstad, workshop]\n"
    )
    assert kb_copy.problems() == []


@pytest.mark.parametrize("name", list(FILES))
def test_missing_file(kb_copy: KbCopy, name: str) -> None:
    """Exactly one problem: the missing file, not a cascade of follow-up errors elsewhere."""
    (kb_copy.dir / name).unlink()
    assert [str(p) for p in kb_copy.problems()] == [f"{name}:1: file is missing"]


def test_empty_file(kb_copy: KbCopy) -> None:
    (kb_copy.dir / "synonyms.yaml").write_text("# nothing yet\n", encoding="utf-8")
    assert [str(p) for p in kb_copy.problems()] == ["synonyms.yaml:1: file is empty"]


def test_file_that_is_not_utf8(kb_copy: KbCopy) -> None:
    (kb_copy.dir / "synonyms.yaml").write_bytes("concepts: [ä]\n".encode("latin-1"))
    problems = kb_copy.problems()
    assert len(problems) == 1
    assert (problems[0].file, problems[0].line) == ("synonyms.yaml", 1)
    assert problems[0].message.startswith("not UTF-8 text")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    min: 20\n", "    min: 90\n"),  # 0, 90, 40, 60, 80
        ("    min: 0\n", "    min: 5\n"),  # does not start at 0
        ("    min: 40\n", "    min: 20\n"),  # 0, 20, 20, 60, 80: one level can never be reached
    ],
    ids=["descending", "not-from-zero", "equal"],
)
def test_levels_not_ascending(kb_copy: KbCopy, old: str, new: str) -> None:
    levels = kb_copy.line_of("kartoitus.yaml", "\nlevels:\n") + 1
    kb_copy.edit("kartoitus.yaml", old, new)
    problems = kb_copy.problems()
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert problem.file == "kartoitus.yaml"
    assert problem.message == "levels must start at min 0 and ascend"
    assert problem.line in (levels, levels + 1)  # `levels:` or its first item


# --------------------------------------------------------------------------- all at once


def test_several_problems_are_all_reported(kb_copy: KbCopy) -> None:
    # two problems in placements.yaml; the upper one first, so the lower one's line is final
    line = kb_copy.edit(
        "placements.yaml",
        "    partner: nextiili\n",
        "    partner: nextiili\n    partner: nextiili\n",
    )
    expected = {
        ("placements.yaml", line + 1),
        (
            "faq.yaml",
            kb_copy.edit("faq.yaml", "    topic: workshops\n", "    topic: workshops: oops\n"),
        ),
        (
            "placements.yaml",
            kb_copy.edit(
                "placements.yaml",
                "    interests: [textiles, crafts, environment]\n",
                "    interests: [textiles, knitting, environment]\n",
            ),
        ),
        (
            "synonyms.yaml",
            kb_copy.edit(
                "synonyms.yaml",
                "    fi: [haastepaja, haastepajamalli]\n",
                "    fi: [haastepaja, pajat]\n",
            ),
        ),
        (
            "kartoitus.yaml",
            kb_copy.edit("kartoitus.yaml", "      - id: st2\n", "      - id: st1\n"),
        ),
    }
    problems = kb_copy.problems()
    assert expected <= {(p.file, p.line) for p in problems}, [str(p) for p in problems]
    assert find(problems, "YAML syntax").file == "faq.yaml"
    assert find(problems, "unknown interest 'knitting'").file == "placements.yaml"
    assert find(problems, "'pajat' is already in concept").file == "synonyms.yaml"
    assert find(problems, "duplicate question id").file == "kartoitus.yaml"
    assert find(problems, "duplicate key 'partner'").file == "placements.yaml"


def test_tip_problems_are_reported_even_when_another_file_has_a_schema_error(
    kb_copy: KbCopy,
) -> None:
    """An editor fixing faq.yaml must not find new tips.yaml problems only on the next run."""
    faq_line = kb_copy.edit(
        "faq.yaml", "    topic: workshops\n", "    topic: workshops\n    colour: red\n"
    )
    kb_copy.edit("tips.yaml", "    question: st1\n", "    question: st99\n")
    problems = kb_copy.problems()
    assert find(problems, "faq.0.colour").line == faq_line + 1
    assert find(problems, "unknown scored question 'st99'").file == "tips.yaml"


def test_load_raises_with_every_problem(kb_copy: KbCopy) -> None:
    kb_copy.edit(
        "placements.yaml",
        "    interests: [textiles, crafts, environment]\n",
        "    interests: [textiles, knitting, environment]\n",
    )
    kb_copy.edit(
        "faq.yaml",
        "    related: [nextiili_textiles, ravintola_kierto, uusio_upcycling]\n",
        "    related: [nextiili_textiles, no_such_place, uusio_upcycling]\n",
    )
    with pytest.raises(KnowledgeError) as caught:
        load(kb_copy.dir)
    assert len(caught.value.problems) == 2
    assert str(caught.value).splitlines() == [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the developer's shell or .env; a database in tmp_path; no stdin."""
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{work / 'bot.db'}")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return work


def test_kb_check_on_the_shipped_knowledge_base(clean_env: Path, capsys) -> None:
    """The shipped operator profile is an example: it passes, with its placeholders listed."""
    assert main(["kb", "check"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[-1].startswith("knowledge base OK, ") and lines[-1].endswith(" warning(s)")
    assert lines[:-1] and all(line.startswith("operator.yaml:") for line in lines[:-1])
    assert all(": warning: " in line for line in lines[:-1])
    assert err == ""
    assert main(["kb", "check", str(DEFAULT_DIR)]) == 0


def test_kb_check_with_a_filled_in_operator_profile_is_clean(
    clean_env: Path, kb_copy: KbCopy, capsys
) -> None:
    assert main(["kb", "check", str(kb_copy.dir)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "knowledge base OK"
    assert err == ""


def broken(kb_copy: KbCopy) -> list[str]:
    kb_copy.edit(
        "placements.yaml",
        "    interests: [textiles, crafts, environment]\n",
        "    interests: [textiles, knitting, environment]\n",
    )
    kb_copy.edit("tips.yaml", "    question: st1\n", "    question: st99\n")
    kb_copy.edit(
        "synonyms.yaml", "    fi: [haastepaja, haastepajamalli]\n", "    fi: [haastepaja, pajat]\n"
    )
    lines = [str(p) for p in kb_copy.problems()]
    assert len(lines) == 3
    return lines


def test_kb_check_prints_every_problem_and_fails(clean_env: Path, kb_copy: KbCopy, capsys) -> None:
    expected = broken(kb_copy)
    assert main(["kb", "check", str(kb_copy.dir)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == expected
    assert err.strip() == "3 problem(s)"
    for line in out.splitlines():
        file, number, message = line.split(":", 2)
        assert file in FILES and int(number) > 0 and message.startswith(" ")


def test_kb_check_without_a_directory_checks_the_knowledge_dir_the_bot_uses(
    clean_env: Path, kb_copy: KbCopy, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """`kb check` must not say OK about a knowledge base the bot then refuses to start on."""
    expected = broken(kb_copy)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(kb_copy.dir))
    assert main(["kb", "check"]) == 1
    assert capsys.readouterr().out.splitlines() == expected


def test_the_bot_refuses_to_start_on_a_broken_knowledge_base(
    clean_env: Path, kb_copy: KbCopy, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    expected = broken(kb_copy)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(kb_copy.dir))
    assert main(["chat"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line.strip() for line in err.splitlines()]
    assert lines[0].startswith("kierto-bot: the knowledge base has problems")
    assert lines[1:] == expected
    assert not (clean_env / "bot.db").exists(), "nothing was started: no database opened"


def test_the_bot_starts_on_a_good_copy(
    clean_env: Path, kb_copy: KbCopy, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The same run as above with the copy untouched: the console starts and ends at EOF."""
    monkeypatch.setenv("KNOWLEDGE_DIR", str(kb_copy.dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO("/start\n"))
    assert main(["chat", "--lang", "en"]) == 0
    out, err = capsys.readouterr()
    assert "I am a bot" in out
    assert err == ""
