"""Who is logged in to this browser session: the token and the user it belongs to."""

from __future__ import annotations

import param

from spendlens_dashboard.api import ApiClient, ApiError

EXPIRED_MESSAGE = "Your session has expired or was revoked. Please log in again."


class Session(param.Parameterized):
    """The token lives here (and in this session's ApiClient) and nowhere else."""

    token = param.String(default=None, allow_None=True, doc="Bearer token; None when logged out")
    user = param.Dict(default=None, allow_None=True, doc="GET /auth/me of the logged-in user")
    notice = param.String(default="", doc="Why the user is on the login page, e.g. expired")

    def __init__(self, client: ApiClient, **params) -> None:
        super().__init__(**params)
        self.client = client
        self.lifetime = 0.0  # seconds the token was issued for (a page's session lasts as long)

    @property
    def logged_in(self) -> bool:
        return self.token is not None and self.user is not None

    @property
    def role(self) -> str | None:
        return self.user["role"] if self.user else None

    @property
    def can_write(self) -> bool:
        """Analysts and admins record, edit and delete transactions; viewers only read."""
        return self.role in ("analyst", "admin")

    @property
    def display_name(self) -> str:
        if not self.user:
            return ""
        return self.user.get("full_name") or self.user["email"]

    @property
    def organization_name(self) -> str:
        return self.user["organization"]["name"] if self.user else ""

    @property
    def currency(self) -> str:
        return self.user["organization"]["base_currency"] if self.user else "USD"

    def login(self, email: str, password: str) -> None:
        """Log in or raise ApiError; `user` is set before `token` so watchers of token see both."""
        answer = self.client.login(email.strip(), password)
        self.lifetime = float(answer.get("expires_in") or 0)
        try:
            user = self.client.me()
        except ApiError:
            self.client.logout()
            raise
        self.user = user
        self.notice = ""
        self.token = self.client.token

    def resume(self, token: str) -> bool:
        """Carry on with a token this browser logged in with before (a reload, a link); False
        (and still logged out) when the API no longer takes it."""
        self.client.token = token
        try:
            user = self.client.me()
        except ApiError:
            self.client.logout()
            return False
        self.user = user
        self.notice = ""
        self.token = token
        return True

    def logout(self, notice: str = "") -> None:
        self.client.logout()
        self.param.update(token=None, user=None, notice=notice)

    def expire(self) -> None:
        """The API answered 401 to our token: back to the login page with a message."""
        if self.token is not None:
            self.logout(EXPIRED_MESSAGE)
