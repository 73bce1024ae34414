"""Chart labels never overlap legends: in the layout computed for the SVG, and in the boxes
headless Chromium actually draws."""

from __future__ import annotations

import copy
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from engine.simulation.charts import Box, Chart, grouped_bars, overlap
from engine.simulation.report import charts, render
from tests.simulate.test_report import _chromium, _run

LONG = "members-who-bought-garden-furniture-in-spring-and-came-back"


def _stress(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with long campaign ids, many of them, in both versions."""
    doc = copy.deepcopy(doc)
    for i in range(9):
        figures = {"points": 100 * (i + 1), "orders": i, "cost": "1.00", "budget": None,
                   "budget_used": None}
        doc["campaigns"][f"{LONG}-{i}"] = figures
        doc["compare"]["campaigns"][f"{LONG}-{i}"] = figures
    return doc


def _boxes_apart(chart: Chart) -> None:
    labels = [label.box() for label in chart.labels]
    legend = [item.box() for item in chart.legend]
    for box in labels + legend:
        assert box[0] >= 0 and box[2] <= chart.width, (chart.title, box)
        assert box[1] >= 0 and box[3] <= chart.height, (chart.title, box)
    for i, item in enumerate(legend):
        assert not any(overlap(item, label) for label in labels), (chart.title, chart.legend[i])
        assert not any(overlap(item, other) for other in legend[i + 1:]), chart.title


def test_layout_keeps_labels_and_legends_apart(compare_doc: dict[str, Any],
                                               draft_doc: dict[str, Any]) -> None:
    drawn = charts(compare_doc) + charts(draft_doc) + charts(_stress(compare_doc))
    assert sum(len(c.legend) for c in drawn) > 10
    for chart in drawn:
        _boxes_apart(chart)
    names = [f"{LONG} version {i}" for i in range(5)]  # a legend of several rows
    wide = grouped_bars("wide", [LONG, "x"], [(n, [1.0, 2.0]) for n in names])
    assert len({item.y for item in wide.legend}) > 1
    _boxes_apart(wide)


# Written into a copy of the page (the report itself has no scripts): the boxes the browser
# drew for every axis label and legend entry, per chart, and each chart's own box.
SCRIPT = """<script>
const out = [...document.querySelectorAll("svg.chart")].map(svg => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; };
  return {svg: box(svg), labels: [...svg.querySelectorAll("text.axis-label")].map(box),
          legend: [...svg.querySelectorAll("g.legend")].map(box)};
});
const pre = document.createElement("pre"); pre.id = "boxes";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def _drawn(html: str, tmp_path: Path, name: str) -> list[dict[str, list[Box]]]:
    page = tmp_path / f"{name}.html"
    page.write_text(html.replace("</body>", SCRIPT + "</body>"), encoding="utf-8")
    dom = _run(_chromium(), tmp_path / f"profile-{name}", "--window-size=1000,3000",
               "--dump-dom", page.as_uri()).stdout
    found = re.search(r'<pre id="boxes">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return json.loads(unescape(found.group(1)))


@pytest.mark.parametrize("which", ["same-version", "draft", "long-names"])
def test_chromium_draws_labels_clear_of_legends(which: str, compare_doc: dict[str, Any],
                                                draft_doc: dict[str, Any],
                                                tmp_path: Path) -> None:
    doc = {"same-version": compare_doc, "draft": draft_doc,
           "long-names": _stress(compare_doc)}[which]
    drawn = _drawn(render(doc), tmp_path, which)
    assert len(drawn) == 4 and all(chart["labels"] for chart in drawn)
    assert sum(len(chart["legend"]) for chart in drawn) >= 7
    for n, chart in enumerate(drawn):
        svg = chart["svg"]
        for box in chart["labels"] + chart["legend"]:  # inside the chart, not cut off
            assert svg[0] <= box[0] + 0.5 and box[2] <= svg[2] + 0.5, (n, box, svg)
            assert svg[1] <= box[1] + 0.5 and box[3] <= svg[3] + 0.5, (n, box, svg)
        for legend in chart["legend"]:
            clash = [label for label in chart["labels"] if overlap(legend, label)]
            assert not clash, (which, n, legend, clash)
