"""Dark/light switch that changes the theme in place.

Panel's built-in template toggle reloads the page with `?theme=dark`, which would start a new
browser session and so log the analyst out (the token lives only in the session). This switch
instead (1) swaps the theme stylesheets already in the page (JavaScript, instant), (2) points the
session's shared stylesheet models and Panel's per-session theme at the new theme, so components
rendered later match, and (3) re-themes the Bokeh charts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import panel as pn
from bokeh.model import Model
from bokeh.themes import Theme
from panel.io.state import state
from panel.theme.base import BOKEH_DARK, DarkTheme

# (light, dark) stylesheet endings; the leading slash keeps "default.css" from matching
# "bootstrap_default.css".
THEME_SHEETS = (
    ("/theme/default.css", "/theme/dark.css"),
    ("/theme/bootstrap_default.css", "/theme/bootstrap_dark.css"),
)

SWAP_JS = """
const dark = cb_obj.active;
const swaps = PAIRS.map(([light, darkUrl]) => dark ? [light, darkUrl] : [darkUrl, light]);
function visit(root) {
  for (const link of root.querySelectorAll('link[rel="stylesheet"]')) {
    for (const [from, to] of swaps) {
      if (link.href.includes(from)) { link.href = link.href.replace(from, to); }
    }
  }
  for (const el of root.querySelectorAll('*')) { if (el.shadowRoot) { visit(el.shadowRoot); } }
}
visit(document);
document.documentElement.setAttribute('data-bs-theme', dark ? 'dark' : 'light');
document.documentElement.dataset.spendlensTheme = dark ? 'dark' : 'light';
"""


def swap_sheet_url(url: str, dark: bool) -> str:
    for light_end, dark_end in THEME_SHEETS:
        old, new = (light_end, dark_end) if dark else (dark_end, light_end)
        if old in url:
            return url.replace(old, new)
    return url


class ThemeSwitch(pn.viewable.Viewer):
    """A switch labelled 'Dark theme'; `on_change(dark)` lets the App re-theme its charts."""

    def __init__(self, on_change: Callable[[bool], None] = lambda dark: None, **params) -> None:
        super().__init__(**params)
        self.on_change = on_change
        # Its label is the switch's own (a screen reader announces "Dark theme, switch").
        self.switch = pn.widgets.Switch(
            label="Dark theme",
            value=pn.config.theme == "dark",
            width=140,
            align="center",
            margin=(0, 5, 0, 10),
            stylesheets=[":host { color: #fff; } .bk-label { white-space: nowrap; }"],
        )
        pairs = "[" + ",".join(f'["{a}","{b}"]' for a, b in THEME_SHEETS) + "]"
        self.switch.jscallback(value=SWAP_JS.replace("PAIRS", pairs))
        self.switch.param.watch(self._changed, "value")
        self._layout = pn.Row(self.switch, css_classes=["theme-switch"])

    @property
    def dark(self) -> bool:
        return bool(self.switch.value)

    def _changed(self, event) -> None:
        dark = bool(event.new)
        pn.config.theme = "dark" if dark else "default"  # per session: later components
        doc = pn.state.curdoc

        def swap_shared_sheets() -> None:
            for sheet in state._stylesheets.get(doc, {}).values():
                new_url = swap_sheet_url(sheet.url, dark)
                if new_url != sheet.url:
                    sheet.url = new_url
            self.on_change(dark)

        # Bokeh models may only change under the document lock: a next-tick callback holds it
        # (this watcher runs on a worker thread).
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(swap_shared_sheets)
        else:
            swap_shared_sheets()

    def __panel__(self):
        return self._layout


@cache
def light_bokeh_theme() -> Theme:
    """Bokeh's own defaults for every property the dark theme sets, so switching back to light
    really undoes it (a missing theme would leave the document's dark one in force)."""
    attrs = {}
    for name, props in BOKEH_DARK["attrs"].items():
        cls = Model.model_class_reverse_map[name]
        attrs[name] = {prop: cls.lookup(prop).class_default(cls) for prop in props}
    return Theme(json={"attrs": attrs})


def bokeh_theme(dark: bool) -> Theme:
    return DarkTheme.bokeh_theme if dark else light_bokeh_theme()


def apply_chart_theme(page, dark: bool) -> None:
    """Redraw a page's charts in the light or dark Bokeh theme.

    A page with its own `set_theme` (the overview's live charts) does it itself; otherwise every
    HoloViews pane on the page gets the theme and draws a new plot with it (Bokeh applies a theme
    when a plot is made, not to one already in the browser). Charts drawn later take the
    document's theme, which the panes set."""
    if hasattr(page, "set_theme"):
        page.set_theme(dark)
        return
    theme = bokeh_theme(dark)
    for pane in page.__panel__().select(pn.pane.HoloViews):
        pane.theme = theme
        if pane.object is not None:
            pane.param.trigger("object")
