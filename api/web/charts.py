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


@dataclass(frozen=True)
class Level:
    """One row of a comparison chart: an area's value (None when withheld), its interval, and whether it is the subject."""

    label: str
    value: float | None
    note: str = ""
    lower: float | None = None
    upper: float | None = None
    subject: bool = False


def comparison_bars(rows: list[Level], *, title: str, unit: str, width: int = 760) -> str:
    """Draw one bar per area, the subject's solid and labelled, others outlined; whiskers for 95% intervals.

    Legible without colour: the subject's label says so in words and is bold, every bar has its value written
    beside it, and a withheld value is written as such where its bar would be.
    """
    label_w, row_h, gap, top = 300, 22, 8, 10
    plot_w = width - label_w - 150
    most = max((max(r.value or 0.0, r.upper or 0.0) for r in rows), default=0.0) or 1.0
    height = top + len(rows) * (row_h + gap) + 10
    ident = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())[:60]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}" '
        f'viewBox="0 0 {width} {height}" width="100%" class="app-chart" font-family="{FONT}">',
        f'<title id="{ident}">{escape(title)}</title>',
    ]
    for i, r in enumerate(rows):
        y = top + i * (row_h + gap)
        weight = ' font-weight="bold"' if r.subject else ""
        label = f"{_short(r.label, 30)} (this council)" if r.subject else _short(r.label)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row_h * 0.72:.1f}" font-size="14" text-anchor="end" fill="#0b0c0c"{weight}>'
            f"{escape(label)}</text>"
        )
        if r.value is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{y + row_h * 0.72:.1f}" font-size="14" fill="#0b0c0c">'
                f"{escape(r.note or 'no figure')}</text>"
            )
            continue
        w = plot_w * max(r.value, 0.0) / most
        if r.subject:
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{COLOURS[1]}"/>')
        else:
            parts.append(
                f'<rect x="{label_w}" y="{y + 1}" width="{w:.1f}" height="{row_h - 2}" fill="#ffffff" '
                f'stroke="{COLOURS[0]}" stroke-width="2"/>'
            )
        end = label_w + w
        if r.lower is not None and r.upper is not None:
            lo, hi = label_w + plot_w * r.lower / most, label_w + plot_w * r.upper / most
            mid = y + row_h / 2
            parts.append(
                f'<path d="M{lo:.1f} {mid:.1f}H{hi:.1f}M{lo:.1f} {y + 4}V{y + row_h - 4}M{hi:.1f} {y + 4}V{y + row_h - 4}" '
                f'stroke="#0b0c0c" stroke-width="2" fill="none"/>'
            )
            end = max(end, hi)
        text = f"{_fmt(r.value)} {unit}".strip()
        parts.append(
            f'<text x="{end + 6:.1f}" y="{y + row_h * 0.72:.1f}" font-size="14" fill="#0b0c0c"{weight}>{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
