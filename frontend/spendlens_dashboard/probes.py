"""What browser tests and the benchmark ask the page: which charts are drawn and with what data.

The probes read BokehJS's own document (figures by title, their data sources and whether their
views finished rendering), so a test waits for the real condition instead of sleeping.
"""

from __future__ import annotations

from spendlens_dashboard.charts import TITLES

CHART_TITLES = tuple(TITLES.values())

# Returns {title: {drawn, rows, labels, total}} for every figure with a title in the page.
CHARTS_JS = """
() => {
  const out = {};
  if (!window.Bokeh || !window.Bokeh.documents) { return out; }
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!('renderers' in model) || model.title == null || typeof model.title !== 'object') {
        continue;
      }
      const title = model.title.text;
      if (!title) { continue; }
      const view = window.Bokeh.index.find_one(model);
      // A page shown again gets new figures; the old ones linger in the document, unviewed.
      if (view == null && out[title]) { continue; }
      let rows = 0, total = 0;
      let labels = [];
      for (const renderer of model.renderers) {
        const source = renderer.data_source;
        if (!source || !source.data) { continue; }
        const data = source.data;
        // Only sources of spend figures or labels (not markers drawn over them) count.
        if (!data.total_spend && !data.label) { continue; }
        const columns = Object.keys(data);
        rows += data[columns[0]].length;
        if (data.label) { labels = labels.concat(Array.from(data.label)); }
        if (data.total_spend) {
          for (const v of data.total_spend) { total += Number(v); }
        }
      }
      out[title] = {drawn: view != null && view.has_finished(), rows, labels, total};
    }
  }
  return out;
}
"""

# Predicate for page.wait_for_function: every overview chart is drawn, and (optionally) its data
# differs from a fingerprint taken before a change.
CHARTS_READY_JS = """
(args) => {
  const [titles, before] = args;
  const charts = (%s)();
  for (const title of titles) {
    const chart = charts[title];
    if (!chart || !chart.drawn) { return false; }
    if (before && before[title] && JSON.stringify(before[title]) === JSON.stringify(
        {rows: chart.rows, labels: chart.labels, total: chart.total})) { return false; }
  }
  return true;
}
""" % CHARTS_JS.strip()


def chart_fingerprints(page) -> dict[str, dict]:
    """The data each chart shows now (rows, labels, summed spend), by chart title."""
    charts = page.evaluate(CHARTS_JS)
    return {
        title: {"rows": c["rows"], "labels": c["labels"], "total": c["total"]}
        for title, c in charts.items()
    }


def wait_for_charts(page, *, changed_from: dict | None = None, timeout: float = 15_000) -> None:
    """Wait until all overview charts are drawn (and, given a fingerprint, show other data)."""
    page.wait_for_function(
        CHARTS_READY_JS, arg=[list(CHART_TITLES), changed_from], timeout=timeout, polling="raf"
    )


CHART_BOX_JS = """
(title) => {
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if ('renderers' in model && model.title && model.title.text === title) {
        const view = window.Bokeh.index.find_one(model);
        if (view == null) { continue; }  // a figure no longer on screen
        const r = view.el.getBoundingClientRect();
        return {x: r.x, y: r.y, width: r.width, height: r.height};
      }
    }
  }
  return null;
}
"""


def chart_box(page, title: str) -> dict | None:
    """Where the chart called `title` is on the page (x, y, width, height in CSS pixels)."""
    return page.evaluate(CHART_BOX_JS, title)
