"""The server-drawn charts: bars in proportion, labels escaped, a title for screen readers."""

from __future__ import annotations

import re

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
