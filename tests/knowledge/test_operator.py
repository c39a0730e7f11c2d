"""The operator profile: the shipped example warns, a filled-in profile is clean, the
`{operator}` / `{contact}` placeholders are filled per language and no other placeholder,
phone number or personal e-mail address gets into the knowledge base."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from knowledge.loader import DEFAULT_DIR, FILES, check, load
from knowledge.operator import example_markers, fill, strings
from knowledge.schema import OperatorFile

FILLED = Path(__file__).with_name("operator_filled.yaml")


def copy_kb(root: Path, operator: Path = FILLED) -> Path:
    root.mkdir()
    for name in FILES:
        shutil.copy(DEFAULT_DIR / name, root / name)
    shutil.copy(operator, root / "operator.yaml")
    return root


def test_the_shipped_profile_is_a_marked_example_that_only_warns() -> None:
    knowledge, problems = check(DEFAULT_DIR)
    assert knowledge is not None and knowledge.example_operator
    assert problems and all(p.warning and p.file == "operator.yaml" for p in problems)
    messages = [p.message for p in problems]
    assert any("example operator profile" in m for m in messages)
    assert any(m.startswith("placeholder left: [[") for m in messages)
    assert not knowledge.staff_answer, "the example never promises that a person answers"


def test_a_filled_in_profile_passes_cleanly(tmp_path: Path) -> None:
    knowledge, problems = check(copy_kb(tmp_path / "kb"))
    assert [str(p) for p in problems] == []
    assert knowledge is not None and not knowledge.example_operator
    assert knowledge.staff_answer


def test_each_placeholder_left_is_one_warning_on_its_line(tmp_path: Path) -> None:
    root = copy_kb(tmp_path / "kb")
    text = FILLED.read_text(encoding="utf-8").replace(
        "    en: Example City employment services\n",
        '    en: "[[Operator\'s name]]"\n',
    )
    (root / "operator.yaml").write_text(text, encoding="utf-8")
    knowledge, problems = check(root)
    line = text[: text.index("[[Operator's name]]")].count("\n") + 1
    assert knowledge is not None
    assert [str(p) for p in problems] == [
        f"operator.yaml:{line}: warning: placeholder left: [[Operator's name]]"
    ]


def test_fill_uses_the_language_and_leaves_other_braces_alone(tmp_path: Path) -> None:
    kb = load(copy_kb(tmp_path / "kb"))
    text = "Kysy: {contact}. Bottia ylläpitää {operator}."
    assert kb.fill(text, "fi") == (
        "Kysy: lähetä viesti osoitteeseen kierto@example.org. "
        "Bottia ylläpitää Esimerkkikaupungin työllisyyspalvelut."
    )
    assert kb.fill("{operator}", "sv") == "Exempelstadens sysselsättningstjänster"
    assert fill("{operator.__class__} {x} {", kb.operator, "en") == "{operator.__class__} {x} {"
    assert kb.text(kb.operator.name, "en") == "Example City employment services"


def test_an_unknown_placeholder_is_an_error_with_its_line(tmp_path: Path) -> None:
    root = copy_kb(tmp_path / "kb")
    tips = (root / "tips.yaml").read_text(encoding="utf-8")
    old = "      fi: Kirjaa ympäristötavoitteet liiketoimintasuunnitelmaan\n"
    assert old in tips
    new = "      fi: Kirjaa {tavoite} liiketoimintasuunnitelmaan\n"
    (root / "tips.yaml").write_text(tips.replace(old, new, 1), encoding="utf-8")
    knowledge, problems = check(root)
    line = tips[: tips.index(old)].count("\n") + 1
    assert knowledge is None
    assert [str(p) for p in problems] == [
        f"tips.yaml:{line}: unknown placeholder {{tavoite}} (known: {{operator}}, {{contact}})"
    ]


def test_the_profile_needs_a_way_to_reach_the_controller() -> None:
    data = yaml.safe_load(FILLED.read_text(encoding="utf-8"))
    del data["operator"]["controller"]["email"]
    del data["operator"]["controller"]["url"]
    with pytest.raises(ValueError, match="at least one of email, url or how"):
        OperatorFile.model_validate(data)


# ------------------------------------------------------------------ what no text may contain

PHONE = re.compile(r"(?<![\d.,:/-])(?:\+358|0)\s?\d{1,3}[\s-]?\d{3}[\s-]?\d{3,4}(?![\d%])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
FUNCTIONAL = re.compile(r"^(kirjaamo|tietosuoja|info|kierto|asiakaspalvelu|yritys)@")


def all_texts() -> list[tuple[str, str]]:
    texts = []
    for name in FILES:
        texts += texts_of(name)
    return texts


def texts_of(name: str) -> list[tuple[str, str]]:
    data = yaml.safe_load((DEFAULT_DIR / name).read_text(encoding="utf-8"))
    return [(name, text) for _, text in strings(data)]


@pytest.mark.parametrize("name", list(FILES))
def test_no_phone_numbers_or_personal_email_addresses_in_the_knowledge_base(name: str) -> None:
    texts = texts_of(name)
    assert [t for _, t in texts if PHONE.search(t)] == []
    assert [m for _, t in texts for m in EMAIL.findall(t) if not FUNCTIONAL.match(m)] == []
    # no official by name either: the seed's contact was a project manager (synonyms.yaml
    # holds what people type, and they may well ask for one)
    if name != "synonyms.yaml":
        assert not [t for _, t in texts if re.search(r"projektipäällik|project manager", t, re.I)]


def test_the_phone_pattern_catches_the_forms_people_write() -> None:
    for phone in ("040 123 4567", "0401234567", "+358 40 123 4567", "03 123 456"):
        assert PHONE.search(f"soita {phone}"), phone
    for not_phone in ("1.12.2021–31.8.2023", "ISO 14001", "1,09 miljoonaa", "10–30 %"):
        assert not PHONE.search(not_phone), not_phone


# Words that present the KIERTO project or its coordinators as active today. Texts may say
# what the project did (past tense) and what the operator offers now (from operator.yaml).
RUNNING_NOW = [
    re.compile(p, re.I)
    for p in (
        r"KIERTO-hankkeen (avustaja|koordinaattori)",
        r"KIERTO(n|-hankkeen)? koordinaattori",
        r"koordinaattori (ottaa|kertoo|vastaa|selvittää)",
        r"hanke (tarjoaa|järjestää|auttaa|on käynnissä)",
        r"nyt (on )?tarjolla",
        r"\bKIERTO (offers|runs|organises)\b",
        r"coordinator (will|tells|confirms|contacts|checks)",
        r"the project (offers|runs|organises|is running)",
        r"koordinator (berättar|kontaktar|bekräftar)",
        r"projektet (erbjuder|ordnar)",
        # the employment services' name until 2024; only "formerly ..." may still name it
        r"(?<!entiset )TE-palvelu",
        r"(?<!formerly )\bTE services",
        r"(?<!tidigare )TE-tjänst",
    )
]


def test_no_text_says_the_project_is_running_now() -> None:
    hits = [
        (name, pattern.pattern, text[:80])
        for name, text in all_texts()
        for pattern in RUNNING_NOW
        if name not in ("faq.yaml", "synonyms.yaml") and pattern.search(text)
    ]
    assert hits == []


def test_the_example_markers_are_found_in_nested_texts() -> None:
    data = {"a": [{"fi": "x [[täytä]] y"}, "[[b\n c]]"]}
    assert list(example_markers(data)) == [(("a", 0, "fi"), "[[täytä]]"), (("a", 1), "[[b c]]")]


def test_every_text_is_filled_in_at_load(tmp_path: Path) -> None:
    """Renderers need not remember the placeholders: the loaded knowledge has none left."""
    kb = load(copy_kb(tmp_path / "kb"))
    raw = (DEFAULT_DIR / "services.yaml").read_text(encoding="utf-8")
    assert "{contact}" in raw.split("services:", 1)[1], "the shipped texts do use it"
    for service in kb.services.values():
        for lang in ("fi", "en", "sv"):
            for value in (service.description, service.how):
                assert value is None or "{" not in value.get(lang)
    assert "kierto@example.org" in kb.services["kierto100"].how.get("fi")
    assert "Example City employment services" in kb.services["haastepaja"].how.get("en")


def test_no_message_in_the_catalogs_says_the_project_is_running_now() -> None:
    """The same wording rules for the user-interface texts (fi, en, sv catalogs)."""
    from babel.messages.pofile import read_po

    import locales

    hits = []
    for lang in ("fi", "en", "sv"):
        path = locales.DIR / lang / "LC_MESSAGES" / f"{locales.DOMAIN}.po"
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        for message in catalog:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in strings:
                hits += [(lang, p.pattern, text[:80]) for p in RUNNING_NOW if p.search(text)]
                if re.search(r"koordinaattor|coordinator|koordinator", text, re.I):
                    hits.append((lang, "coordinator", text[:80]))
    assert hits == []
