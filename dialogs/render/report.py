"""The one-page PDF report of a completed KIERTO-kartoitus (fpdf2).

The report is laid out from plain data (`ReportData`) that the results flow fills in the
user's language, so this module knows nothing about questions or scoring.

Theme names are never cut: a long one wraps within its column. The first page holds the
summary (level, bars, chart); sections that do not fit go on to a second page rather than
being dropped, because the open questions and the services are what a reader acts on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from fpdf import FPDF

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # DejaVu: full Unicode
GREEN = (46, 125, 50)
LIGHT = (224, 224, 224)


@dataclass(frozen=True)
class ReportData:
    title: str
    subtitle: str
    overall_line: str
    level_text: str
    themes: list[tuple[str, float | None, str]]  # label, score 0..100, change text
    sections: list[tuple[str, list[str]]] = field(default_factory=list)  # heading, paragraphs
    chart_png: bytes | None = None
    footer: str = ""
    notice: str = ""  # "a self-assessment and advice, not a certificate or a decision"


class _Pdf(FPDF):
    def __init__(self, footer: str) -> None:
        super().__init__(format="A4")
        self._footer_text = footer
        self.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=False)
        self.set_margins(14, 12, 14)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(120)
        self.cell(0, 5, self._footer_text, align="C")


def render_pdf(data: ReportData) -> bytes:
    pdf = _Pdf(data.footer)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_text_color(*GREEN)
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(width, 8, data.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(width, 5, data.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(width, 6, data.overall_line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 4.5, data.level_text, new_x="LMARGIN", new_y="NEXT")
    if data.notice:
        pdf.set_text_color(90)
        pdf.set_font("DejaVu", "", 7.5)
        pdf.multi_cell(width, 3.8, data.notice, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
    pdf.ln(2)

    top = pdf.get_y()
    chart_w = 78
    if data.chart_png:
        pdf.image(io.BytesIO(data.chart_png), x=pdf.w - pdf.r_margin - chart_w, y=top, w=chart_w)
    bars_w = width - chart_w - 4 if data.chart_png else width
    label_w, bar_w = 46, bars_w - 46 - 22
    for label, value, change in data.themes:
        y = pdf.get_y()
        pdf.set_font("DejaVu", "", 8.5)
        # the whole name, wrapped in its column; the row grows to fit it
        lines = pdf.multi_cell(label_w, 4, label, dry_run=True, output="LINES")
        row = max(6.0, 4.0 * len(lines) + 2)
        pdf.multi_cell(label_w, 4, label, new_x="RIGHT", new_y="TOP")
        x = pdf.l_margin + label_w
        middle = y + row / 2
        pdf.set_fill_color(*LIGHT)
        pdf.rect(x, middle - 1.5, bar_w, 3, style="F")
        if value is not None:
            pdf.set_fill_color(*GREEN)
            pdf.rect(x, middle - 1.5, bar_w * value / 100, 3, style="F")
        pdf.set_xy(x + bar_w + 2, middle - 3)
        shown = "–" if value is None else f"{value:.0f}"
        pdf.cell(20, 6, f"{shown} {change}".strip())
        pdf.set_xy(pdf.l_margin, y + row)
    pdf.set_y(max(pdf.get_y(), top + (chart_w if data.chart_png else 0)) + 3)

    bottom = pdf.h - 16
    for heading, paragraphs in data.sections:
        if pdf.get_y() > bottom - 14:
            pdf.add_page()
        pdf.set_font("DejaVu", "B", 10.5)
        pdf.set_text_color(*GREEN)
        pdf.cell(width, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
        pdf.set_font("DejaVu", "", 8.5)
        for paragraph in paragraphs:
            lines = pdf.multi_cell(width, 4.2, paragraph, dry_run=True, output="LINES")
            if pdf.get_y() + 4.2 * len(lines) > bottom:
                pdf.add_page()
                pdf.set_font("DejaVu", "", 8.5)
            pdf.multi_cell(width, 4.2, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        pdf.ln(1)
    return bytes(pdf.output())
