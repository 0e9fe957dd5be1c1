"""Charts drawn on the server as SVG, so they need no script; each page also shows the figures as a table."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

#: GOV.UK colours, distinguishable without colour vision by their order and the table beside each chart.
COLOURS = ("#505a5f", "#1d70b8", "#00703c")
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"


@dataclass(frozen=True)
class Bar:
    """One row of a stacked bar chart: a label and its parts, in the order of the legend."""

    label: str
    parts: tuple[float, ...]


def stacked_bars(bars: list[Bar], *, legend: tuple[str, ...], title: str, unit: str, width: int = 760) -> str:
    """Draw horizontal stacked bars with a legend; returns the SVG markup."""
    label_w, row_h, gap, top = 300, 26, 10, 34 + 22 * ((len(legend) + 1) // 2)
    plot_w = width - label_w - 130
    most = max((sum(b.parts) for b in bars), default=0.0) or 1.0
    height = top + len(bars) * (row_h + gap) + 10
    ident = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())[:60]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}" '
        f'viewBox="0 0 {width} {height}" width="100%" class="app-chart" font-family="{FONT}">',
        f'<title id="{ident}">{escape(title)}</title>',
    ]
    for i, name in enumerate(legend):
        lx, ly = label_w + (i % 2) * 230, 6 + (i // 2) * 22
        parts.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text x="{lx + 20}" y="{ly + 12}" font-size="14" fill="#0b0c0c">{escape(name)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * (row_h + gap)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h * 0.68:.1f}" font-size="14" text-anchor="end" fill="#0b0c0c">'
            f"{escape(_short(bar.label))}</text>"
        )
        x = float(label_w)
        for j, value in enumerate(bar.parts):
            w = plot_w * max(value, 0.0) / most
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{COLOURS[j % len(COLOURS)]}"/>'
            )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + row_h * 0.68:.1f}" font-size="14" fill="#0b0c0c">'
            f"{_fmt(sum(bar.parts))} {escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, most: int = 34) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
