"""PNG and CSV of one chart: two small buttons beside it.

The CSV is the data the chart draws, as the page last received it from the API (so it follows the
filters on screen), built on the server and handed to the browser over the page's own connection:
no link, nothing for anyone else to open. The PNG is drawn by the browser from the chart on screen
(BokehJS's own export, what a Bokeh save tool does), so no server-side browser is needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import pandas as pd
import panel as pn

# Finds the figure titled `title` among the page's Bokeh models, asks its view for a PNG and
# hands it to the browser as a download.
PNG_JS = """
let view = null;
for (const doc of window.Bokeh.documents) {
  for (const model of doc.all_models) {
    if ('renderers' in model && model.title != null && model.title.text === title) {
      // A page shown again gets new figures; the old ones linger in the document, unviewed.
      view = window.Bokeh.index.find_one(model) || view;
    }
  }
}
if (view == null) { return; }
view.export('png').to_blob().then((blob) => {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
});
"""


def slug_of(title: str) -> str:
    """'Spend by category' → 'spend-by-category' (file names, CSS classes)."""
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def chart_csv(frame: pd.DataFrame | None, columns: Mapping[str, str]) -> str:
    """The columns of `frame` named in `columns` (source → header), money with two decimals,
    dates as YYYY-MM-DD; only the header when nothing is drawn."""
    headers = list(columns.values())
    if frame is None or frame.empty:
        return pd.DataFrame(columns=headers).to_csv(index=False)
    out = pd.DataFrame()
    for source, header in columns.items():
        values = frame[source]
        if source == "total_spend":
            values = values.map(lambda v: f"{float(v):.2f}")
        elif source == "share":
            values = values.map(lambda v: "" if v is None or pd.isna(v) else f"{float(v):.4f}")
        elif pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(values):
            values = values.map(lambda v: "true" if v else "false")
        out[header] = values.to_numpy()
    return out.to_csv(index=False)


class ChartExport(pn.viewable.Viewer):
    """The PNG and CSV buttons of the chart titled `title`; `frame()` gives the data drawn."""

    def __init__(
        self,
        title: str,
        frame: Callable[[], pd.DataFrame | None],
        columns: Mapping[str, str],
        *,
        filename: Callable[[], str] | None = None,
    ) -> None:
        super().__init__()
        self.title = title
        self.frame = frame
        self.columns = dict(columns)
        slug = slug_of(title)
        self._filename = filename or (lambda: f"spendlens-{slug}")
        style = {"font-size": "0.8rem"}
        self.csv = pn.widgets.FileDownload(
            callback=self._csv,
            filename=f"spendlens-{slug}.csv",
            label="CSV",
            description=f"Download the data of “{title}” as CSV",
            color="light",
            embed=False,
            auto=True,
            width=70,
            margin=(0, 4),
            styles=style,
        )
        self.png = pn.widgets.Button(
            label="PNG",
            description=f"Download “{title}” as a PNG image",
            color="light",
            width=70,
            margin=(0, 4),
            styles=style,
        )
        self.png.js_on_click(
            code=PNG_JS, args={"title": title, "filename": f"spendlens-{slug}.png"}
        )
        self._layout = pn.Row(
            pn.HSpacer(),
            self.png,
            self.csv,
            css_classes=["chart-export", f"chart-export-{slug}"],
            sizing_mode="stretch_width",
            margin=(2, 5, 0, 5),
            height=34,
        )

    def _csv(self) -> io.BytesIO:
        # The name carries the period drawn, asked for when the button is pressed.
        self.csv.filename = f"{self._filename()}.csv"
        return io.BytesIO(chart_csv(self.frame(), self.columns).encode("utf-8"))

    def __panel__(self):
        return self._layout
