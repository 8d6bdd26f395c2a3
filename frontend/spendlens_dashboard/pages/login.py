"""The login page: email and password, and a clear sentence for every way logging in can fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import panel as pn
import param

from spendlens_dashboard.api import ApiError, ApiUnreachable
from spendlens_dashboard.background import in_background
from spendlens_dashboard.formatting import safe_text
from spendlens_dashboard.state import Session

WRONG_CREDENTIALS = "Incorrect email or password."


class PasswordField(pn.widgets.PasswordInput):
    """A password input that also reports the Enter key, so Enter submits the form."""

    enter_pressed = param.Event()

    _rename = {**pn.widgets.PasswordInput._rename, "enter_pressed": None}

    def _get_model(self, doc, root=None, parent=None, comm=None):
        model = super()._get_model(doc, root, parent, comm)
        # Bokeh's PasswordInput announces Enter as a `value_submit` event.
        self._register_events("value_submit", model=model, doc=doc, comm=comm)
        return model

    def _process_event(self, event) -> None:
        if event.event_name == "value_submit":
            self.param.update(value=event.value, value_input=event.value)
            self.param.trigger("enter_pressed")


def retry_sentence(seconds: int | None, now: datetime | None = None) -> str:
    """'Try again in 14 minutes (after 12:34 UTC).' for a Retry-After in seconds."""
    if not seconds:
        return "Try again later."
    now = now or datetime.now(UTC)
    at = (now + timedelta(seconds=seconds)).strftime("%H:%M UTC")
    if seconds < 90:
        wait = f"{seconds} seconds"
    else:
        minutes = -(-seconds // 60)
        wait = f"{minutes} minutes"
    return f"Try again in {wait} (after {at})."


def login_failure_message(error: ApiError) -> str:
    if isinstance(error, ApiUnreachable):
        return (
            "The Spendlens API cannot be reached right now. Check that it is running, "
            "then try again."
        )
    if error.status == 401:
        return WRONG_CREDENTIALS
    if error.status == 429:
        return "Too many failed login attempts. " + retry_sentence(error.retry_after)
    if error.status == 422:
        return "Enter your email and password."
    return f"Login failed: {error.message}"


class LoginPage(pn.viewable.Viewer):
    """Email + password form; on success the session gets its token and the App moves on."""

    title = "Log in"

    def __init__(self, session: Session, **params) -> None:
        super().__init__(**params)
        self.session = session
        self.email = pn.widgets.TextInput(
            label="Email", placeholder="you@company.example", sizing_mode="stretch_width"
        )
        self.password = PasswordField(
            label="Password", placeholder="Password", sizing_mode="stretch_width"
        )
        self.submit = pn.widgets.Button(
            label="Log in", color="primary", sizing_mode="stretch_width"
        )
        self.message = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.notice = pn.pane.Alert(
            session.notice,
            alert_type="warning",
            visible=bool(session.notice),
            sizing_mode="stretch_width",
        )
        self.submit.on_click(self._submit)
        self.password.param.watch(self._submit, "enter_pressed")
        self.email.param.watch(self._submit, "enter_pressed")
        session.param.watch(self._session_changed, ["notice", "token"])
        self._layout = pn.Column(
            pn.pane.Markdown("## Log in to Spendlens", css_classes=["login-title"]),
            pn.pane.Markdown(
                "Explore your organisation's spending. Use the account your admin gave you."
            ),
            self.notice,
            self.email,
            self.password,
            self.message,
            self.submit,
            css_classes=["login-card"],
            styles={"max-width": "420px", "margin": "40px auto"},
            sizing_mode="stretch_width",
        )

    def _session_changed(self, *_events) -> None:
        self.notice.param.update(object=self.session.notice, visible=bool(self.session.notice))
        if self.session.token is None:
            self.password.param.update(value="", value_input="")

    def show_error(self, text: str) -> None:
        self.message.param.update(object=safe_text(text), visible=True)

    def _submit(self, *_events) -> None:
        email = (self.email.value_input or self.email.value or "").strip()
        password = self.password.value_input or self.password.value or ""
        if not email or not password:
            self.show_error("Enter your email and password.")
            return
        self.submit.loading = True
        self.message.visible = False
        in_background(lambda: self._log_in(email, password))

    def _log_in(self, email: str, password: str) -> None:
        try:
            self.session.login(email, password)
        except ApiError as error:
            self.show_error(login_failure_message(error))
            return
        finally:
            self.submit.loading = False
        self.password.param.update(value="", value_input="")

    def __panel__(self):
        return self._layout
