"""Layers point one way: bot -> dialogs -> knowledge, locales.

The engine and its flows (`dialogs/`), the content (`knowledge/`) and the translator
(`locales/`) must not import the doors (`bot/`) or a Telegram library; `knowledge/` and
`locales/` must not import `dialogs/` either. Every import statement is read with `ast`,
including ones inside functions, so a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TELEGRAM = {"aiogram", "telegram"}
FORBIDDEN = {
    "dialogs": {"bot"} | TELEGRAM,
    "knowledge": {"bot", "dialogs"} | TELEGRAM,
    "locales": {"bot", "dialogs", "knowledge"} | TELEGRAM,
}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str) -> list[str]:
    banned = FORBIDDEN[package]
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in imported_packages(path)
        if name in banned
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from bot.config import Settings\nimport aiogram.types\n")
    assert sorted(imported_packages(sample)) == [(2, "bot"), (3, "aiogram")]
