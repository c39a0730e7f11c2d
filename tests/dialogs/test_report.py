"""The PDF report, read back as text: whole theme names in every language, the
self-assessment notice, and long sections carried on to another page instead of cut."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from dialogs.render.report import ReportData, render_pdf
from knowledge.loader import Knowledge


def text_of(pdf: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"\s+", " ", text), len(reader.pages)


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
def test_theme_names_are_whole(kb: Knowledge, lang: str) -> None:
    titles = [t.title.get(lang) for t in kb.questionnaire.themes]
    assert max(len(t) for t in titles) > 32, "the old 32-character cut would have bitten"
    data = ReportData(
        title="KIERTO-kartoitus",
        subtitle="Esimerkki Oy",
        overall_line="52/100",
        level_text="…",
        themes=[(title, 40.0 + i, "") for i, title in enumerate(titles)],
        notice="Itsearvio ja neuvo, ei todistus eikä viranomaisen päätös.",
    )
    text, _ = text_of(render_pdf(data))
    for title in titles:
        assert title in text, title
    assert "ei todistus eikä viranomaisen päätös" in text


def test_long_sections_continue_on_a_new_page_instead_of_being_cut() -> None:
    paragraphs = [f"Kohta {n}: " + "sana " * 60 + f"loppu{n}" for n in range(30)]
    data = ReportData(
        title="T",
        subtitle="S",
        overall_line="O",
        level_text="L",
        themes=[("Teema", 10.0, "")],
        sections=[("Avoimet kysymykset", paragraphs), ("Palvelut", ["Viimeinen kappale"])],
    )
    text, pages = text_of(render_pdf(data))
    assert pages >= 2
    assert all(f"loppu{n}" in text for n in range(30))
    assert "Viimeinen kappale" in text
