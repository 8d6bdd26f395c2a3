"""A Tabulator of a small DataFrame held whole in memory (preview, report, recent rows)."""

from __future__ import annotations

from panel.widgets import Tabulator


class FrameTabulator(Tabulator):
    """Tabulator without the deprecated in-place reset_index of ColumnDataSource.from_df."""

    def _get_data(self):
        if self.value is None:
            return super()._get_data()
        df = self._filter_dataframe(self.value)
        df = self._sort_df(df)
        index_name = df.index.name or ("level_0" if "index" in df.columns else "index")
        columns = {index_name: df.index.values}
        columns.update({str(c): df[c].values for c in df.columns})
        return df, {k: self._process_column(v, k, df) for k, v in columns.items()}
