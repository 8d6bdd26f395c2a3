"""Typed client of the Spendlens HTTP API: every call the dashboard makes goes through here.

Failures become `ApiError` (with the API's status, error name, detail and Retry-After), and a
server that cannot be reached becomes `ApiUnreachable`, so views never see an httpx exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypedDict

import httpx

QueryValue = str | int | float | Sequence[str]
QueryParams = Mapping[str, QueryValue]

Interval = Literal["day", "week", "month"]
Dimension = Literal["category", "merchant", "customer"]
TransactionSort = Literal["date", "-date", "amount", "-amount"]
Role = Literal["viewer", "analyst", "admin"]


class Token(TypedDict):
    access_token: str
    token_type: str
    expires_in: int


class Organization(TypedDict):
    id: int
    name: str
    slug: str
    base_currency: str
    timezone: str


class Me(TypedDict):
    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    organization: Organization


class UserOut(TypedDict):
    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool


class Transaction(TypedDict):
    id: int
    customer_id: int
    customer_name: str | None
    merchant_id: int | None
    merchant: str | None
    occurred_at: str
    amount: str
    currency: str
    category: str
    description: str
    quantity: int
    kind: Literal["purchase", "refund"]
    external_id: str | None


class TransactionPage(TypedDict):
    items: list[Transaction]
    total: int
    skip: int
    limit: int


class Period(TypedDict):
    start_date: str
    end_date: str


class SummaryFigures(TypedDict):
    total_spend: str
    transaction_count: int
    average_transaction: str
    median_transaction: str
    active_customers: int


class SummaryChange(TypedDict):
    total_spend: float | None
    transaction_count: float | None
    average_transaction: float | None
    median_transaction: float | None
    active_customers: float | None


class CategoryShare(TypedDict):
    category: str
    total_spend: str
    share: float


class MetricsSummary(SummaryFigures):
    period: Period
    previous_period: Period
    currency: str
    top_categories: list[CategoryShare]
    previous: SummaryFigures
    change: SummaryChange


class TimeseriesPoint(TypedDict):
    period_start: str
    total_spend: str
    transaction_count: int
    active_customers: int
    days: int  # of the bucket inside the requested period
    partial: bool  # the period covers only part of this week or month


class MetricsTimeseries(TypedDict):
    interval: Interval
    currency: str
    period: Period
    points: list[TimeseriesPoint]


class BreakdownItem(TypedDict):
    key: str | None
    label: str
    total_spend: str
    transaction_count: int
    share: float


class BreakdownOther(TypedDict):
    label: str
    total_spend: str
    transaction_count: int
    share: float
    count: int


class MetricsBreakdown(TypedDict):
    by: Dimension
    currency: str
    period: Period
    total_spend: str
    items: list[BreakdownItem]
    other: BreakdownOther


class CategoryCount(TypedDict):
    category: str
    transaction_count: int


class Merchant(TypedDict):
    id: int
    name: str
    default_category: str | None


class MerchantPage(TypedDict):
    items: list[Merchant]
    total: int
    skip: int
    limit: int


class ApiError(Exception):
    """A call the API refused or failed: `status` is the HTTP status (None: nothing answered)."""

    def __init__(
        self,
        status: int | None,
        error: str,
        detail: Any = None,
        retry_after: int | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"{status} {error}: {self.message}")

    @property
    def message(self) -> str:
        """The detail as one sentence a person can read (422 lists are joined)."""
        if isinstance(self.detail, str):
            return self.detail
        if isinstance(self.detail, list):
            parts = []
            for item in self.detail:
                if isinstance(item, Mapping):
                    loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query")]
                    where = f"{'.'.join(loc)}: " if loc else ""
                    parts.append(f"{where}{item.get('msg', item)}")
                else:
                    parts.append(str(item))
            return "; ".join(parts)
        return self.error if self.detail is None else str(self.detail)

    @classmethod
    def from_response(cls, response: httpx.Response) -> "ApiError":
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping):
            error = str(body.get("error") or response.reason_phrase or "Error")
            detail = body.get("detail")
        else:
            error = response.reason_phrase or f"HTTP {response.status_code}"
            detail = response.text or None
        retry_after = response.headers.get("Retry-After")
        return cls(
            response.status_code,
            error,
            detail,
            retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None,
        )


class ApiUnreachable(ApiError):
    """No answer from the API: refused connection, DNS failure or timeout."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(None, "Unreachable", f"The API at {base_url} cannot be reached ({reason})")


def _clean(params: QueryParams | None) -> list[tuple[str, str]]:
    """Query pairs without empty values; a sequence repeats its key (`category=a&category=b`)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(v)) for v in value if v not in (None, ""))
        else:
            pairs.append((key, str(value)))
    return pairs


class ApiClient:
    """One analyst's connection to the API; holds their token once `login` succeeded."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> httpx.Response:
        """Send one request; a refusal or no answer at all raises ApiError (the one place)."""
        try:
            response = self._http.request(
                method,
                path,
                params=_clean(params),
                json=json,
                data=data,
                files=files,
                headers=self._headers(),
            )
        except httpx.TimeoutException:
            raise ApiUnreachable(self.base_url, "timed out") from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(self.base_url, type(exc).__name__) from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _get(self, path: str, params: QueryParams | None = None) -> Any:
        return self._request("GET", path, params=params).json()

    # -- auth -----------------------------------------------------------------------------------

    def login(self, email: str, password: str) -> Token:
        """Exchange credentials for a token and keep it for the following calls."""
        token: Token = self._request(
            "POST", "/auth/login", data={"username": email, "password": password}
        ).json()
        self.token = token["access_token"]
        return token

    def logout(self) -> None:
        """Forget the token (JWTs are stateless: the API keeps nothing to revoke)."""
        self.token = None

    def me(self) -> Me:
        return self._get("/auth/me")

    # -- users (admins) -------------------------------------------------------------------------

    def create_user(
        self, email: str, password: str, *, full_name: str = "", role: Role = "viewer"
    ) -> UserOut:
        body = {"email": email, "password": password, "full_name": full_name, "role": role}
        return self._request("POST", "/users", json=body).json()

    def update_user(self, user_id: int, **changes: Any) -> UserOut:
        return self._request("PATCH", f"/users/{user_id}", json=changes).json()

    # -- catalog --------------------------------------------------------------------------------

    def categories(self) -> list[CategoryCount]:
        return self._get("/categories")

    def merchants(self, q: str | None = None, *, skip: int = 0, limit: int = 100) -> MerchantPage:
        return self._get("/merchants", {"q": q or "", "skip": skip, "limit": limit})

    def all_merchants(self) -> list[Merchant]:
        """Every merchant of the organisation, page by page."""
        merchants: list[Merchant] = []
        while True:
            page = self.merchants(skip=len(merchants), limit=100)
            merchants.extend(page["items"])
            if not page["items"] or len(merchants) >= page["total"]:
                return merchants

    # -- transactions ---------------------------------------------------------------------------

    def list_transactions(
        self,
        filters: QueryParams | None = None,
        *,
        sort: TransactionSort = "-date",
        skip: int = 0,
        limit: int = 20,
    ) -> TransactionPage:
        return self._get(
            "/transactions", {**(filters or {}), "sort": sort, "skip": skip, "limit": limit}
        )

    def get_transaction(self, transaction_id: int) -> Transaction:
        return self._get(f"/transactions/{transaction_id}")

    def create_transaction(self, body: Mapping[str, Any]) -> Transaction:
        return self._request("POST", "/transactions", json=dict(body)).json()

    def update_transaction(self, transaction_id: int, changes: Mapping[str, Any]) -> Transaction:
        return self._request("PATCH", f"/transactions/{transaction_id}", json=dict(changes)).json()

    def delete_transaction(self, transaction_id: int) -> None:
        self._request("DELETE", f"/transactions/{transaction_id}")

    @contextmanager
    def export_transactions_csv(
        self, filters: QueryParams | None = None, *, sort: TransactionSort | None = None
    ) -> Iterator[Iterator[bytes]]:
        """Stream the CSV export of the filtered set: `with client.export...() as chunks:`."""
        params = _clean({**(filters or {}), "sort": sort or ""})
        try:
            with self._http.stream(
                "GET", "/transactions/export.csv", params=params, headers=self._headers()
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response)
                yield response.iter_bytes()
        except httpx.TimeoutException:
            raise ApiUnreachable(self.base_url, "timed out") from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(self.base_url, type(exc).__name__) from None

    def export_transactions_csv_text(
        self, filters: QueryParams | None = None, *, sort: TransactionSort | None = None
    ) -> str:
        with self.export_transactions_csv(filters, sort=sort) as chunks:
            return b"".join(chunks).decode("utf-8")

    # -- metrics --------------------------------------------------------------------------------

    def metrics(
        self, filters: QueryParams | None = None, *, currency: str | None = None
    ) -> MetricsSummary:
        return self._get("/metrics", {**(filters or {}), "currency": currency or ""})

    def timeseries(
        self, filters: QueryParams | None = None, *, interval: Interval = "month"
    ) -> MetricsTimeseries:
        return self._get("/metrics/timeseries", {**(filters or {}), "interval": interval})

    def breakdown(
        self, filters: QueryParams | None = None, *, by: Dimension = "category", top: int = 10
    ) -> MetricsBreakdown:
        return self._get("/metrics/breakdown", {**(filters or {}), "by": by, "top": top})

    # -- customers ------------------------------------------------------------------------------

    def list_customers(
        self,
        filters: QueryParams | None = None,
        *,
        sort: str = "name",
        skip: int = 0,
        limit: int = 20,
    ) -> dict:
        """GET /customers: {items, total, skip, limit}; filters are q, country (list),
        signup_from, signup_to and lifecycle_stage."""
        return self._get(
            "/customers", {**(filters or {}), "sort": sort, "skip": skip, "limit": limit}
        )

    def get_customer(self, customer_id: int) -> dict:
        """GET /customers/{id}: totals, monthly_spend and recent_transactions."""
        return self._get(f"/customers/{customer_id}")

    # -- imports and jobs -----------------------------------------------------------------------

    def upload_import(
        self,
        filename: str,
        content: bytes,
        *,
        kind: str = "transactions",
        format: str = "native-csv",
        mode: str = "all-or-nothing",
        dry_run: bool = False,
        mapping: str | None = None,
        encoding: str = "utf-8",
    ) -> dict:
        """POST /imports: the dry-run report (200) or the queued job (202)."""
        data = {
            "kind": kind,
            "format": format,
            "mode": mode,
            "dry_run": str(dry_run).lower(),
            "encoding": encoding,
        }
        if mapping:
            data["mapping"] = mapping
        files = {"file": (filename or "upload", content)}
        return self._request("POST", "/imports", data=data, files=files).json()

    def get_job(self, job_id: int) -> dict:
        return self._get(f"/jobs/{job_id}")

    def list_jobs(
        self,
        *,
        kind: str | None = None,
        state: str | None = None,
        skip: int = 0,
        limit: int = 20,
    ) -> dict:
        """GET /jobs: the organisation's jobs, newest first ({items, total, skip, limit})."""
        return self._get("/jobs", {"kind": kind, "state": state, "skip": skip, "limit": limit})

    def retry_job(self, job_id: int) -> dict:
        """POST /jobs/{id}/retry: the job queued again (409 when it cannot be retried)."""
        return self._request("POST", f"/jobs/{job_id}/retry").json()

    # -- segments and cohorts -------------------------------------------------------------------

    def segments(self, as_of: str | None = None) -> dict:
        """GET /segments: customers, revenue and averages per RFM segment as of a day (default:
        the latest stored snapshot, else today computed)."""
        return self._get("/segments", {"as_of": as_of})

    def segment_grid(self, as_of: str | None = None) -> dict:
        """GET /segments/grid: the 25 cells of recency score × frequency score."""
        return self._get("/segments/grid", {"as_of": as_of})

    def segment_movement(self, from_date: str, to_date: str) -> dict:
        """GET /segments/movement: customers per (segment on `from_date`, on `to_date`)."""
        return self._get("/segments/movement", {"from": from_date, "to": to_date})

    def cohorts(
        self,
        period: str = "month",
        metric: str = "customers",
        start: str | None = None,
        end: str | None = None,
        *,
        as_of: str | None = None,
    ) -> dict:
        """GET /cohorts: the retention matrix by first-purchase period."""
        return self._get(
            "/cohorts",
            {"period": period, "metric": metric, "start": start, "end": end, "as_of": as_of},
        )

    # -- customer lifetime value ----------------------------------------------------------------

    def list_clv_fits(self, *, skip: int = 0, limit: int = 20) -> dict:
        """GET /clv/fits: the organisation's fits, newest first ({items, total, skip, limit})."""
        return self._get("/clv/fits", {"skip": skip, "limit": limit})

    def get_clv_fit(self, fit_id: int) -> dict:
        """GET /clv/fits/{id}: state, parameters, log-likelihoods and holdout evaluation."""
        return self._get(f"/clv/fits/{fit_id}")

    def create_clv_fit(self, body: Mapping[str, Any]) -> dict:
        """POST /clv/fits (analysts, admins): the fit, queued as a job (follow `job_id`)."""
        return self._request("POST", "/clv/fits", json=dict(body)).json()

    def clv_estimates(
        self, fit_id: int, sort: str = "-clv", skip: int = 0, limit: int = 20
    ) -> dict:
        """GET /clv/fits/{id}/estimates: every customer's figures, sorted ({items, total, …})."""
        return self._get(
            f"/clv/fits/{fit_id}/estimates", {"sort": sort, "skip": skip, "limit": limit}
        )

    def clv_fit_summary(self, fit_id: int) -> dict:
        """GET /clv/fits/{id}/summary: the CLV distribution and the P(alive) matrix."""
        return self._get(f"/clv/fits/{fit_id}/summary")

    # -- customer journey -----------------------------------------------------------------------

    def journey_stages(self, as_of: str | None = None) -> dict:
        """GET /journey/stages: customers per lifecycle stage and `total` at an instant (a date:
        the end of that UTC day; default now)."""
        return self._get("/journey/stages", {"as_of": as_of})

    def journey_timeseries(
        self, interval: Interval = "month", start: str | None = None, end: str | None = None
    ) -> dict:
        """GET /journey/stages/timeseries: customers per stage at the end of each period."""
        return self._get(
            "/journey/stages/timeseries", {"interval": interval, "start": start, "end": end}
        )

    def journey_funnel(
        self, start: str | None = None, end: str | None = None, within_days: int | None = None
    ) -> dict:
        """GET /journey/funnel: lead → prospect → customer of the customers first seen in the
        UTC days start … end, with conversions and times to convert."""
        return self._get(
            "/journey/funnel", {"start": start, "end": end, "within_days": within_days}
        )

    def journey_flows(self, start: str | None = None, end: str | None = None) -> dict:
        """GET /journey/flows: customers per (stage at `start`, stage at `end`), nodes and links."""
        return self._get("/journey/flows", {"start": start, "end": end})

    def customer_stages(self, customer_id: int) -> dict:
        """GET /customers/{id}/stages: the stage history (intervals oldest first) and milestones."""
        return self._get(f"/customers/{customer_id}/stages")

    def customer_events(
        self,
        customer_id: int,
        *,
        skip: int = 0,
        limit: int = 20,
        type: str | Sequence[str] | None = None,
    ) -> dict:
        """GET /customers/{id}/events: one customer's events, newest first ({items, total, …})."""
        return self._get(
            f"/customers/{customer_id}/events", {"skip": skip, "limit": limit, "type": type}
        )
