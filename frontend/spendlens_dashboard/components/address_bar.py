"""The browser's address bar as a component: the App writes the view's query string into it (a
new history entry, or in place), and hears Back and Forward.

Panel's `pn.state.location` gives the query string the page was opened with, but it can neither
replace a history entry nor report Back/Forward (it never listens to `popstate`), and writing
back the URL the browser just went back to would add a duplicate entry. So the App reads the
first URL from `pn.state.location` and keeps it up to date through this small model.
"""

from __future__ import annotations

from urllib.parse import quote

import param
from panel.reactive import ReactiveHTML


class AddressBar(ReactiveHTML):
    """`show(search, push)` puts '?…' in the address bar; `popped` changes on Back/Forward.

    (It also gives cut-off table cells their whole text as a tooltip, keeps Tab moving past the
    multi-choice pickers, and keeps BokehJS from
    sending the server's own models back to it: one small model in the page for the browser-side
    helpers rather than one each.)"""

    wanted = param.String(default="", doc="'P?…' to push a history entry, 'R?…' to replace it")
    popped = param.String(default="", doc="'<n>|?…': the query string Back/Forward went to")

    _template = '<div id="address" style="display: none"></div>'

    _scripts = {
        "render": """
            state.apply = () => {
              const wanted = data.wanted;
              if (!wanted) { return; }
              const search = decodeURIComponent(wanted.slice(1));
              if (window.location.search === search) { return; }
              const url = window.location.pathname + search + window.location.hash;
              if (wanted[0] === 'R') { window.history.replaceState(null, '', url); }
              else { window.history.pushState(null, '', url); }
            };
            state.count = 0;
            state.listener = () => {
              state.count += 1;
              data.popped = state.count + '|' + window.location.search;
            };
            window.addEventListener('popstate', state.listener);
            state.apply();
            // Table cells cut by their ellipsis get their whole text as a title (a tooltip);
            // an attribute is text, never markup (Tabulator's own tooltips insert HTML).
            state.titles = (event) => {
              const path = event.composedPath ? event.composedPath() : [];
              for (const el of path) {
                if (el.classList && el.classList.contains('tabulator-cell')) {
                  if (el.scrollWidth > el.clientWidth + 1) { el.title = el.textContent; }
                  else if (el.hasAttribute('title')) { el.removeAttribute('title'); }
                  return;
                }
              }
            };
            document.addEventListener('mouseover', state.titles, true);
            // Chromium makes a scrolling box a Tab stop: the open list of a multi-choice picker
            // with many options (Categories) took the focus, closed, and left the focus nowhere,
            // so Tab never got past the picker. Its lists are skipped by Tab (still scrolled by
            // the mouse, and by the arrow keys from the picker's input).
            state.tabs = (event) => {
              if (event.key !== 'Tab') { return; }
              const path = event.composedPath ? event.composedPath() : [];
              for (const el of path) {
                if (el.classList && el.classList.contains('choices')) {
                  for (const list of el.querySelectorAll('.choices__list')) {
                    list.setAttribute('tabindex', '-1');
                  }
                  return;
                }
              }
            };
            document.addEventListener('keydown', state.tabs, true);
            // BokehJS (3.9) counts every model a server patch brings (a page opened, a chart
            // redrawn, a form shown) as made in the browser, and sends its whole definition
            // back with the next event that mentions it (a click on that new button): the
            // server then warns "reference already known". Models from the server are known
            // to it, so they stop counting as new once their patch is applied.
            const doc = view.model.document;
            if (doc != null && !doc.spendlens_known_models) {
              doc.spendlens_known_models = true;
              const apply = doc.apply_json_patch.bind(doc);
              doc.apply_json_patch = (patch, buffers) => {
                const before = new Set(doc._new_models);
                apply(patch, buffers);
                for (const model of Array.from(doc._new_models)) {
                  if (!before.has(model)) { doc._new_models.delete(model); }
                }
              };
            }
        """,
        "wanted": "state.apply();",
        "remove": """
            window.removeEventListener('popstate', state.listener);
            document.removeEventListener('mouseover', state.titles, true);
            document.removeEventListener('keydown', state.tabs, true);
        """,
    }

    def __init__(self, **params) -> None:
        super().__init__(height=0, width=0, margin=0, **params)

    def show(self, search: str, *, push: bool = True) -> None:
        # Quoted whole: Panel HTML-escapes the string parameters of a ReactiveHTML ('&amp;').
        self.wanted = ("P" if push else "R") + quote(search, safe="")

    @staticmethod
    def popped_search(popped: str) -> str:
        return popped.split("|", 1)[1] if "|" in popped else ""
