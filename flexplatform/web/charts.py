"""Charts drawn on the server as SVG with matplotlib (Agg; no JavaScript, no CDN).

Each chart is a :class:`Chart`: inline SVG with a ``<title>`` and ``role="img"``, plus a
title and a one-sentence text alternative for the page to show beside it (the page's data
table is the full alternative). Figures are built with the object API, never pyplot, so
concurrent requests never share matplotlib state.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

# Colour-blind safe (Okabe-Ito), then grey for "other".
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000"]
OTHER = "#9AA5B1"
UNMET = "#D4351C"
NEED = "#0B0C0C"
MAX_SERIES = 8
_RC = {"svg.fonttype": "none", "svg.hashsalt": "flexplatform", "font.size": 9,
       "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False}


@dataclass(frozen=True)
class Chart:
    title: str
    alt: str
    svg: str


def _svg(fig: Figure, title: str, alt: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and DOCTYPE for inlining
    # Fluid width; an accessible name; matplotlib's own <title> elements are dropped.
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                 r'<svg\1 class="chart-svg" role="img" aria-label="' + html.escape(alt) + '"',
                 svg, count=1)
    svg = svg.replace(">", f"><title>{html.escape(title)}</title>", 1)
    return svg


def _plain(text: str) -> str:
    """Text drawn as typed: a ``$`` would start matplotlib mathtext (and a malformed formula
    in an asset's name would fail the page)."""
    return text.replace("$", r"\$")


def top_series(series: dict[str, Sequence[float]], keep: int = MAX_SERIES - 1
               ) -> dict[str, list[float]]:
    """The ``keep`` largest series by total, the rest summed into one "other" series."""
    ranked = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    out = {k: list(v) for k, v in ranked[:keep]}
    rest = ranked[keep:]
    if len(rest) == 1:
        out[rest[0][0]] = list(rest[0][1])
    elif rest:
        out[f"{len(rest)} other assets"] = [sum(v) for v in zip(*(v for _, v in rest),
                                                                 strict=True)]
    return out


def stacked_periods(title: str, periods: Sequence[dt.datetime],
                    series: dict[str, Sequence[float]], line: Sequence[float] | None = None,
                    line_label: str = "Need", unmet: Sequence[float] | None = None,
                    unit: str = "MW") -> Chart:
    """Bars per period stacked by series, an optional line (the need) and unmet on top.

    Parameters
    ----------
    periods: period start times (UTC); the x axis shows them as HH:MM.
    series: label -> one value per period (e.g. MW awarded per asset); more than
        MAX_SERIES are folded into "other assets" (see :func:`top_series`).
    line: one value per period drawn as a step line (e.g. the MW the need asks for).
    unmet: one value per period stacked on top in red hatching.
    """
    n = len(periods)
    shown = top_series(series) if len(series) > MAX_SERIES else {k: list(v) for k, v in
                                                                series.items()}
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(10.0, 3.6), dpi=96)
        ax = fig.add_subplot()
        x = list(range(n))
        bottom = [0.0] * n
        for i, (name, vals) in enumerate(shown.items()):
            colour = OTHER if name.endswith("other assets") else PALETTE[i % len(PALETTE)]
            ax.bar(x, vals, bottom=bottom, width=0.8, color=colour, label=_plain(name),
                   linewidth=0)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        if unmet is not None and any(u > 0 for u in unmet):
            ax.bar(x, unmet, bottom=bottom, width=0.8, color="white", edgecolor=UNMET,
                   hatch="///", linewidth=0.8, label="Unmet")
        if line is not None:
            ax.step([-0.5, *[i + 0.5 for i in x]], [line[0], *line] if n else [], where="pre",
                    color=NEED, linewidth=1.6, label=_plain(line_label))
        ax.set_ylabel(unit)
        step = max(1, n // 12)
        ax.set_xticks(x[::step], [p.astimezone(dt.UTC).strftime("%H:%M") for p in periods][::step])
        ax.set_xlabel("Period start (UTC)")
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#DDE1E6", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        ax.set_title(_plain(title), loc="left", fontsize=10, fontweight="bold")
    total = [sum(v[i] for v in series.values()) for i in range(n)]
    peak = max(total, default=0.0)
    alt = (f"Stacked bar chart over {n} period(s) from "
           f"{periods[0]:%H:%M} UTC: {len(series)} series, at most {peak:g} {unit} in a period"
           if n else "Empty chart: no periods")
    if line is not None and n:
        alt += f"; {line_label.lower()} up to {max(line):g} {unit}"
    if unmet is not None and n:
        alt += f"; unmet in {sum(1 for u in unmet if u > 0)} period(s)"
    alt += ". The table below gives every value."
    return Chart(title, alt, _svg(fig, title, alt))


def profile(title: str, periods: Sequence[dt.datetime], values: Sequence[float],
            unit: str = "MW") -> Chart:
    """One series of bars per period (a need's requirement)."""
    return stacked_periods(title, periods, {title: values}, unit=unit)
