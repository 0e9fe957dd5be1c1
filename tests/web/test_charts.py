"""The server-drawn charts: bars in proportion, labels escaped, a title for screen readers."""

from __future__ import annotations

import itertools
import re

import pytest

from api.web.charts import Bar, stacked_bars


def test_bars_are_in_proportion_and_labels_escaped() -> None:
    svg = stacked_bars(
        [Bar("A <b>", (10, 30)), Bar("B", (5, 15))], legend=("kept", "saved"), title="Cells", unit="cells"
    )
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="26"', svg)]
    assert widths[0] * 3 == widths[1]
    assert widths[0] + widths[1] == (widths[2] + widths[3]) * 2
    assert "A &lt;b&gt;" in svg
    assert '<title id="chart-cells">Cells</title>' in svg
    assert "40 cells" in svg


#: The burden chart's legend (api/web/officer.py): its longest labels were cut off, and its last part drawn in the
#: first part's colour.
BURDEN_LEGEND = (
    "still keyed by hand",
    "keyed once instead of several times",
    "worked out by the service",
    "keyed by nobody: from or awaiting a publisher, or a child-level cell from records",
)


def _luminance(colour: str) -> float:
    """WCAG 2's relative luminance of a #rrggbb colour: the lightness a greyscale copy keeps."""
    linear = []
    for i in (1, 3, 5):
        c = int(colour[i : i + 2], 16) / 255
        linear.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_each_part_of_a_stacked_bar_has_its_own_colour_apart_in_greyscale() -> None:
    svg = stacked_bars([Bar("Barnet", (1, 2, 11, 594))], legend=BURDEN_LEGEND, title="Burden", unit="cells")
    swatches = re.findall(r'<rect x="[\d.]+" y="\d+" width="14" height="14" fill="(#[0-9a-f]{6})"', svg)
    segments = re.findall(r'height="26" fill="(#[0-9a-f]{6})"', svg)
    assert len(set(swatches)) == 4
    assert segments == swatches  # each part drawn in its legend colour, in order
    greys = sorted(_luminance(c) for c in swatches)
    for darker, lighter in itertools.pairwise(greys):
        # Colour-blind readers and a greyscale print keep lightness: each two parts at least 1.8:1 apart.
        assert (lighter + 0.05) / (darker + 0.05) >= 1.8
    with pytest.raises(ValueError, match="at most 4 parts"):
        stacked_bars([Bar("x", (1, 1, 1, 1, 1))], legend=("a", "b", "c", "d", "e"), title="t", unit="u")


def test_every_legend_label_is_drawn_whole_inside_the_chart() -> None:
    width = 760
    svg = stacked_bars([Bar("A", (1, 2, 3, 4))], legend=BURDEN_LEGEND, title="Burden", unit="cells", width=width)
    labels = re.findall(r'<text x="([\d.]+)" y="\d+" font-size="14" fill="#0b0c0c">([^<]+)</text>', svg)
    drawn = {text: float(x) for x, text in labels}
    for name in BURDEN_LEGEND:
        assert name in drawn, name
        # 8.5 px a character is wider than the font's average at 14 px: the label ends inside the chart.
        assert drawn[name] + 8.5 * len(name) <= width, name
    longest = "a label long enough that two of them side by side would not fit the chart's width at all"
    one_column = stacked_bars([Bar("A", (1, 2))], legend=(longest, "b"), title="t", unit="u", width=width)
    xs = {
        float(x)
        for x, _ in re.findall(r'<text x="([\d.]+)" y="\d+" font-size="14" fill="#0b0c0c">([^<]+)</text>', one_column)
    }
    assert min(xs) == 30.0
