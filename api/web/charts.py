"""Charts drawn on the server as SVG, so they need no script; each page also shows the figures as a table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

#: GOV.UK colours, distinguishable without colour vision by their order and the table beside each chart.
COLOURS = ("#505a5f", "#1d70b8", "#00703c")
#: A stacked bar's parts, in the legend's order: GOV.UK colour palette's dark blue, blue, orange and yellow (GOV.UK
#: Design System, Styles: Colour, https://design-system.service.gov.uk/styles/colour). Chosen so that each part is
#: told from the others by its lightness alone (every two at least 1.8:1 by WCAG's contrast ratio), so the parts
#: stay apart in greyscale and for readers who do not tell red from green or blue from yellow; a thin dark edge
#: keeps the yellow apart from the white page. Never repeated: a chart with more parts is refused.
PARTS = ("#003078", "#1d70b8", "#f47738", "#ffdd00")
EDGE = "#0b0c0c"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif"
#: A width in pixels no 14px character of the chart's font is wider than on average, to lay the legend out whole.
CHAR_W = 8.5


@dataclass(frozen=True)
class Bar:
    """One row of a stacked bar chart: a label and its parts, in the order of the legend."""

    label: str
    parts: tuple[float, ...]


def stacked_bars(bars: list[Bar], *, legend: tuple[str, ...], title: str, unit: str, width: int = 760) -> str:
    """Draw horizontal stacked bars with a legend, each part its own colour and every legend label whole; returns
    the SVG markup."""
    if len(legend) > len(PARTS):
        raise ValueError(f"a stacked bar chart draws at most {len(PARTS)} parts, each its own colour")
    # Two columns of legend where every label fits its column whole, else one.
    column_w = (width - 20) / 2
    columns = 2 if all(20 + CHAR_W * len(name) <= column_w for name in legend) else 1
    rows = math.ceil(len(legend) / columns)
    label_w, row_h, gap, top = 300, 26, 10, 16 + 22 * rows
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
        lx, ly = 10 + (i % columns) * column_w, 6 + (i // columns) * 22
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="14" height="14" fill="{PARTS[i]}" stroke="{EDGE}" stroke-width="1"/>'
        )
        parts.append(f'<text x="{lx + 20:.1f}" y="{ly + 12}" font-size="14" fill="#0b0c0c">{escape(name)}</text>')
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
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" fill="{PARTS[j]}" '
                f'stroke="{EDGE}" stroke-width="{0.5 if w else 0}"/>'
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


#: Marker shapes of a line chart's series, so each series reads without colour.
MARKERS = ("circle", "square", "triangle")


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="#ffffff" stroke="{colour}" stroke-width="2"/>'
    return f'<path d="M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y + 5:.1f}L{x - 6:.1f} {y + 5:.1f}Z" fill="{colour}"/>'


def axis_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round values for an axis from at or below ``low`` to at or above ``high``, 1, 2 or 5 times a power of ten apart."""
    if high <= low:
        high = low + 1
    rough = (high - low) / (most - 1)
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(k * step, 12) for k in range(first, last + 1)]


def trend_lines(
    periods: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    title: str,
    width: int = 760,
    at: list[float] | None = None,
) -> str:
    """Draw up to three series over periods as lines with distinct markers and a legend; gaps where a value is missing.

    ``at`` places each period on a time axis (e.g. its end date's ordinal), so uneven gaps between periods show;
    without it the periods are evenly spaced.
    """
    left, right, top, bottom = 70, 50, 40, 60
    height = 320
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low = min(low, 0.0) if low >= 0 and high > 0 and low / (high or 1) < 0.5 else low
    ticks = axis_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    span = (high - low) or 1.0
    ident = "chart-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())[:60]

    place = at if at is not None and len(at) == len(periods) else [float(i) for i in range(len(periods))]
    first, last = (min(place), max(place)) if place else (0.0, 0.0)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * (place[i] - first) / (last - first) if last > first else plot_w / 2)
        return x, top + plot_h - plot_h * (v - low) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ident}" '
        f'viewBox="0 0 {width} {height}" width="100%" class="app-chart" font-family="{FONT}">',
        f'<title id="{ident}">{escape(title)}</title>',
        f'<path d="M{left} {top}V{top + plot_h}H{left + plot_w}" stroke="#505a5f" fill="none"/>',
    ]
    for tick in ticks:
        frac = (tick - low) / span
        y = top + plot_h - plot_h * frac
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="13" text-anchor="end" fill="#0b0c0c">{_fmt(tick)}</text>'
        )
    # At most six period labels, so long labels (FY2012-13) never run into each other.
    step = max(1, -(-len(periods) // 6))
    shown: list[tuple[float, str]] = []
    for i, p in enumerate(periods):
        if i % step == 0 or i == len(periods) - 1:
            x, _ = xy(i, low)
            # On a time axis two periods may sit close: the later label wins, the earlier is left out.
            if shown and x - shown[-1][0] < 80:
                shown.pop()
            shown.append((x, p))
    for x, p in shown:
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" font-size="13" text-anchor="middle" fill="#0b0c0c">{escape(p)}</text>'
        )
    for k, (name, vs) in enumerate(series):
        colour, shape = COLOURS[(k + 1) % len(COLOURS)], MARKERS[k % len(MARKERS)]
        run: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                run = []
                continue
            x, y = xy(i, v)
            run.append(f"{'M' if not run else 'L'}{x:.1f} {y:.1f}")
            if len(run) > 1:
                parts.append(
                    f'<path d="{run[-2].replace("L", "M")}{run[-1]}" stroke="{colour}" stroke-width="2" fill="none"/>'
                )
            parts.append(_marker(shape, x, y, colour))
        # Each legend entry starts after the one before, however long its name (about 8 px a character).
        lx = left + sum(40 + 8 * len(n) for n, _ in series[:k])
        parts.append(_marker(shape, lx + 6, 14, colour))
        parts.append(f'<text x="{lx + 18}" y="{19}" font-size="14" fill="#0b0c0c">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
