"""A Tabulator whose rows are one page fetched from the API: the pager and the header sorting
talk to the API (through `page` and `sorters`), never to a DataFrame held in memory."""

from __future__ import annotations

import pandas as pd
import param
from panel.widgets import Tabulator


class ApiPagedTabulator(Tabulator):
    """`pagination='remote'` where `value` is only the current page and `total_rows` says how
    many rows the whole (filtered) result has, so the pager shows the right number of pages."""

    total_rows = param.Integer(default=0, bounds=(0, None), doc="Rows in the whole result")

    _rename = {**Tabulator._rename, "total_rows": None}

    def __init__(self, value=None, **params) -> None:
        params.setdefault("pagination", "remote")
        super().__init__(value=value, **params)

    @property
    def _length(self) -> int:
        return self.total_rows

    def _sort_df(self, df: pd.DataFrame) -> pd.DataFrame:
        return df  # the API sorted the page already

    def _filter_dataframe(self, df: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
        return df  # the API filtered it too

    def _get_data(self):
        if self.value is None:
            return super()._get_data()
        page_df = self.value
        # What ColumnDataSource.from_df builds, without its deprecated in-place reset_index.
        index_name = page_df.index.name or ("level_0" if "index" in page_df.columns else "index")
        columns = {index_name: page_df.index.values}
        columns.update({str(c): page_df[c].values for c in page_df.columns})
        return self.value, {k: self._process_column(v, k, page_df) for k, v in columns.items()}

    @param.depends("total_rows", watch=True)
    def _total_changed(self) -> None:
        self._update_max_page()

    def show_page(self, frame: pd.DataFrame, total: int, page: int) -> None:
        """Replace the rows with one fetched page (and tell the pager where it is)."""
        nrows = self.page_size or self.initial_page_size
        max_page = max(1, -(-total // nrows))
        self.param.page.bounds = (1, max_page)
        self.param.update(total_rows=total, page=min(max(page, 1), max_page), value=frame)


# Compact rows, and every cell's whole text on hover (cells that do not fit end in "…").
FIT_CSS = """
:host .tabulator { font-size: 13px; }
:host .tabulator .tabulator-row .tabulator-cell { padding: 5px 8px; }
:host .tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 6px 8px; }
"""


def fitted(widths: dict[str, int], money: tuple[str, ...] = (), **options) -> dict:
    """Tabulator options for a table that fits its box at 1440 × 900: the columns in `widths`
    (amounts, dates, names, ids: what must never be cut) get that many pixels, the others
    share what is left and ellipsise what does not fit (a title shows it whole on hover, see
    AddressBar); money is right-aligned; no fixed height: the table is as tall as its rows."""
    align = {column: "right" for column in money}
    align.update(options.pop("text_align", {}))
    return dict(
        layout="fit_columns",
        widths=widths,
        text_align=align,
        # Cell tooltips are titles set by AddressBar (Tabulator's own insert the text as HTML).
        configuration={"columnDefaults": {"headerTooltip": True}},
        sizing_mode="stretch_width",
        stylesheets=[FIT_CSS],
        **options,
    )
