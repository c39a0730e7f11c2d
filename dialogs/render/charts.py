"""Charts drawn with matplotlib, returned as PNG bytes (no files, no display)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib
from matplotlib.figure import Figure  # a bare Figure renders with Agg; no pyplot state
from matplotlib.ticker import MaxNLocator

GREEN = "#2e7d32"
GREY = "#9e9e9e"


def radar_png(
    labels: Sequence[str],
    values: Sequence[float | None],
    previous: Sequence[float | None] | None = None,
    title: str = "",
    legend: tuple[str, str] = ("", ""),
) -> bytes:
    """A radar (spider) chart of theme scores 0..100; `previous` is drawn dashed beneath.

    A theme without a score (nothing applied) is drawn at 0 and its label is bracketed.
    """
    if len(labels) < 3 or len(labels) != len(values):
        raise ValueError("a radar chart needs at least three labelled values")
    with matplotlib.rc_context({"text.parse_math": False}):  # "$" in a name is just "$"
        return _radar(labels, values, previous, title, legend)


def _radar(
    labels: Sequence[str],
    values: Sequence[float | None],
    previous: Sequence[float | None] | None,
    title: str,
    legend: tuple[str, str],
) -> bytes:
    count = len(labels)
    angles = [2 * math.pi * i / count for i in range(count)] + [0.0]
    fig = Figure(figsize=(6, 6), dpi=110)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=7, color=GREY)
    ax.set_xticks(angles[:-1])
    shown = [
        label if v is not None else f"({label})" for label, v in zip(labels, values, strict=True)
    ]
    ax.set_xticklabels(shown, fontsize=9)
    if previous is not None:
        old = [v or 0.0 for v in previous] + [previous[0] or 0.0]
        ax.plot(angles, old, color=GREY, linewidth=1.5, linestyle="--", label=legend[1] or None)
    now = [v or 0.0 for v in values] + [values[0] or 0.0]
    ax.plot(angles, now, color=GREEN, linewidth=2, label=legend[0] or None)
    ax.fill(angles, now, color=GREEN, alpha=0.25)
    if title:
        ax.set_title(title, fontsize=12, pad=18)
    if previous is not None and legend[0]:
        ax.legend(loc="upper right", bbox_to_anchor=(1.15, 1.12), fontsize=8, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def bars_png(
    labels: Sequence[str],
    series: Sequence[Sequence[float]],
    names: Sequence[str] = (),
    title: str = "",
    horizontal: bool = True,
    limit: float | None = None,
) -> bytes:
    """Bars for the back office's dashboard: one or more series side by side (counts per
    week, theme averages). `limit` fixes the value axis (100 for scores)."""
    with matplotlib.rc_context({"text.parse_math": False}):
        count = len(labels)
        fig = Figure(figsize=(7, max(2.2, 0.34 * count + 1.0)) if horizontal else (7, 3.2), dpi=100)
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(series))
        colours = [GREEN, GREY, "#81c784", "#455a64"]
        for i, values in enumerate(series):
            positions = [p + i * width for p in range(count)]
            label = names[i] if i < len(names) else None
            if horizontal:
                ax.barh(positions, values, height=width, color=colours[i % 4], label=label)
            else:
                ax.bar(positions, values, width=width, color=colours[i % 4], label=label)
        ticks = [p + width * (len(series) - 1) / 2 for p in range(count)]
        if horizontal:
            ax.set_yticks(ticks, [str(x)[:40] for x in labels], fontsize=8)
            ax.invert_yaxis()
            if limit:
                ax.set_xlim(0, limit)
        else:
            ax.set_xticks(ticks, [str(x)[:12] for x in labels], fontsize=7, rotation=45)
            if limit:
                ax.set_ylim(0, limit)
        if not limit:  # counts: whole numbers on the value axis
            (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
        if title:
            ax.set_title(title, fontsize=10)
        if names:
            ax.legend(fontsize=8, frameon=False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
