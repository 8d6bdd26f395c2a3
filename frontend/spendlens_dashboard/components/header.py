"""The header's right-hand side: who is logged in (name, organisation, role) and logout."""

from __future__ import annotations

import html

import panel as pn

from spendlens_dashboard.state import Session

BADGE_CSS = """
.user-badge { display: flex; gap: 10px; align-items: center; color: #fff;
              font-size: 0.95rem; white-space: nowrap; }
.user-name { font-weight: 600; }
.user-role { text-transform: uppercase; font-size: 0.72rem; letter-spacing: .06em;
             padding: 2px 8px; border-radius: 10px; border: 1px solid currentColor; }
"""


def user_badge_html(session: Session) -> str:
    if not session.user:
        return ""
    return (
        '<div class="user-badge">'
        f'<span class="user-name">{html.escape(session.display_name)}</span>'
        f'<span class="user-org">{html.escape(session.organization_name)}</span>'
        f'<span class="user-role" data-role="{html.escape(session.role or "")}">'
        f"{html.escape(session.role or '')}</span>"
        "</div>"
    )


class UserHeader(pn.viewable.Viewer):
    def __init__(self, session: Session, **params) -> None:
        super().__init__(**params)
        self.session = session
        self.badge = pn.pane.HTML(
            user_badge_html(session), stylesheets=[BADGE_CSS], align="center", margin=(0, 10)
        )
        self.logout = pn.widgets.Button(
            label="Log out", color="light", align="center", width=90, visible=False
        )
        self.logout.on_click(lambda _: session.logout())
        session.param.watch(self._session_changed, ["user", "token"])
        self._session_changed()
        self._layout = pn.Row(pn.HSpacer(), self.badge, self.logout, sizing_mode="stretch_width")

    def _session_changed(self, *_events) -> None:
        self.badge.object = user_badge_html(self.session)
        self.logout.visible = self.session.logged_in

    def __panel__(self):
        return self._layout
