"""Customer lifetime value: the organisation's latest CLV fit, its aggregates (CLV distribution,
P(alive) by recency × frequency), its top customers, what a new fit's form starts from, and the
new fit itself (POST /clv/fits, its job followed by a JobStore).

Neither follows the shared date filters: a fit has its own calibration and holdout windows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import panel as pn
import param

from spendlens_dashboard.api import ApiError
from spendlens_dashboard.background import in_background
from spendlens_dashboard.formatting import format_count, format_money
from spendlens_dashboard.state.jobs import FINISHED, JobStarter
from spendlens_dashboard.state.stores import API_CALLS, Store

TOP_CUSTOMERS = 20
HOLDOUT_DAYS = 90
JOB_KIND = "clv_fit"
TOP_COLUMNS = [
    "rank",
    "customer_id",
    "name",
    "external_id",
    "frequency",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
]
EVALUATION_COLUMNS = ["frequency", "customers", "mean_predicted", "mean_actual"]
DISTRIBUTION_COLUMNS = ["low", "high", "customers", "clv_total"]
P_ALIVE_COLUMNS = ["recency", "frequency", "customers", "mean_p_alive"]


# -- how the figures read -------------------------------------------------------------------------


def format_number(value: float | None, significant: int = 4) -> str:
    """A model parameter: 4 significant digits (0.2431, 4.512, 12.35), thousands separated
    from 10,000 up; '–' when missing."""
    if value is None:
        return "–"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.{significant}g}"


def format_fixed(value: float | None, decimals: int = 2) -> str:
    """-12345.678 → '-12,345.68'."""
    return "–" if value is None else f"{value:,.{decimals}f}"


def format_percent(value: float | None, *, signed: bool = False) -> str:
    """0.1234 → '12.3%' (signed: '+12.3%')."""
    if value is None:
        return "–"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def format_yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


# -- frames for the charts and the table ----------------------------------------------------------


def evaluation_frame(fit: dict | None) -> pd.DataFrame:
    """Holdout predicted vs actual repeat purchases per customer, by calibration frequency."""
    rows = ((fit or {}).get("evaluation") or {}).get("by_frequency") or []
    frame = pd.DataFrame(rows, columns=EVALUATION_COLUMNS)
    for column in ("mean_predicted", "mean_actual"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["frequency"] = frame["frequency"].astype(str)
    return frame


def distribution_frame(summary: dict | None) -> pd.DataFrame:
    """The CLV histogram's bins: low, high (NaN: open-ended), customers, clv_total."""
    bins = ((summary or {}).get("clv_distribution") or {}).get("bins") or []
    frame = pd.DataFrame(bins, columns=DISTRIBUTION_COLUMNS)
    for column in ("low", "high", "clv_total"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["customers"] = frame["customers"].astype(int)
    return frame


def p_alive_frame(summary: dict | None) -> pd.DataFrame:
    """One row per recency × frequency cell (empty ones included, mean_p_alive NaN), with the
    bucket orders in `frame.attrs` (recency_order, frequency_order)."""
    matrix = (summary or {}).get("p_alive") or {}
    frame = pd.DataFrame(matrix.get("cells") or [], columns=P_ALIVE_COLUMNS)
    frame["mean_p_alive"] = pd.to_numeric(frame["mean_p_alive"], errors="coerce").astype(float)
    frame["customers"] = frame["customers"].astype(int)
    frame.attrs["recency_order"] = list(matrix.get("recency_buckets") or [])
    frame.attrs["frequency_order"] = list(matrix.get("frequency_buckets") or [])
    return frame


def top_customers_frame(items: list[dict] | None, currency: str) -> pd.DataFrame:
    """The top customers by CLV as the table shows them (text, formatted)."""
    frame = pd.DataFrame(items or [], columns=TOP_COLUMNS[1:])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["name"] = frame["name"].fillna("")
    frame["external_id"] = frame["external_id"].fillna("")
    frame["frequency"] = [format_count(v) for v in frame["frequency"]]
    frame["p_alive"] = [format_percent(v) for v in frame["p_alive"]]
    frame["expected_purchases"] = [format_fixed(v) for v in frame["expected_purchases"]]
    frame["expected_spend"] = [format_money(v, currency) for v in frame["expected_spend"]]
    frame["clv"] = [format_money(v, currency) for v in frame["clv"]]
    return frame.astype({c: "object" for c in TOP_COLUMNS if c not in ("rank", "customer_id")})


# -- the fit form's starting point ----------------------------------------------------------------


def default_windows(first_day: date | None, last_day: date | None, today: date) -> dict[str, Any]:
    """What the form proposes: the last HOLDOUT_DAYS days of data (up to the latest transaction,
    never after today) held out, everything before for calibration, the API's horizons."""
    holdout_end = min(last_day or today, today)
    calibration_end = holdout_end - timedelta(days=HOLDOUT_DAYS)
    calibration_start = first_day or calibration_end - timedelta(days=365)
    if calibration_start >= calibration_end:
        calibration_start = calibration_end - timedelta(days=365)
    return {
        "calibration_start": calibration_start,
        "calibration_end": calibration_end,
        "holdout_end": holdout_end,
        "purchases_horizon_days": 90,
        "clv_horizon_days": 365,
        "monthly_discount_rate": 0.0,
    }


def fit_body(values: dict[str, Any]) -> dict[str, Any]:
    """The POST /clv/fits body from the form's values (dates as ISO strings; no holdout when
    its end is empty)."""

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "calibration_start": iso(values["calibration_start"]),
        "calibration_end": iso(values["calibration_end"]),
        "holdout_end": iso(values.get("holdout_end")),
        "purchases_horizon_days": int(values["purchases_horizon_days"]),
        "clv_horizon_days": int(values["clv_horizon_days"]),
        "monthly_discount_rate": f"{float(values['monthly_discount_rate']):.4f}",
    }


def _day(timestamp: str | None) -> date | None:
    return date.fromisoformat(timestamp[:10]) if timestamp else None


# -- the store ------------------------------------------------------------------------------------


class ClvStore(Store):
    """GET /clv/fits (the newest 20), and for the latest that succeeded its summary and top
    customers; with `with_data_range`, the days of the first and the latest transaction too
    (what the fit form's defaults come from)."""

    currency = param.String(default="USD")
    with_data_range = param.Boolean(default=False)

    fit = param.Dict(default=None, allow_None=True, doc="The latest fit that succeeded")
    failed = param.Dict(default=None, allow_None=True, doc="A newer fit than `fit` that failed")
    pending = param.Dict(default=None, allow_None=True, doc="The newest fit, queued or running")
    summary = param.Dict(default=None, allow_None=True, doc="GET /clv/fits/{fit}/summary")
    top = param.DataFrame(default=None, allow_None=True, doc="Top customers by CLV")
    fits_total = param.Integer(default=0)
    first_day = param.Date(default=None, allow_None=True)
    last_day = param.Date(default=None, allow_None=True)

    def _fetch(self) -> dict[str, Any]:
        calls = {"fits": API_CALLS.submit(self.client.list_clv_fits, limit=20)}
        if self.with_data_range:
            newest = API_CALLS.submit(self.client.list_transactions, sort="-date", limit=1)
            oldest = API_CALLS.submit(self.client.list_transactions, sort="date", limit=1)
        page = calls["fits"].result()
        fits = page["items"]
        # The latest *fitted* one, as the API's customer `clv` and the customers' CLV sort
        # choose it (two fits can finish in another order than they were queued).
        fit = max(
            (f for f in fits if f["state"] == "succeeded"),
            key=lambda f: (f.get("fitted_at") or "", f["id"]),
            default=None,
        )
        failed = None
        for candidate in fits:
            if candidate is fit:
                break
            if candidate["state"] == "failed":
                failed = candidate
                break
        pending = fits[0] if fits and fits[0]["state"] not in FINISHED else None
        values: dict[str, Any] = {
            "fit": fit,
            "failed": failed,
            "pending": pending,
            "fits_total": page["total"],
            "summary": None,
            "top": top_customers_frame([], self.currency),
        }
        if fit is not None:
            summary = API_CALLS.submit(self.client.clv_fit_summary, fit["id"])
            top = self.client.clv_estimates(fit["id"], sort="-clv", limit=TOP_CUSTOMERS)
            values["summary"] = summary.result()
            values["top"] = top_customers_frame(top["items"], self.currency)
        if self.with_data_range:
            latest, first = newest.result()["items"], oldest.result()["items"]
            values["last_day"] = _day(latest[0]["occurred_at"]) if latest else None
            values["first_day"] = _day(first[0]["occurred_at"]) if first else None
        return values


class ClvFitStore(JobStarter):
    """POST /clv/fits from the form's values; the fit's job is followed by `job`."""

    fit_id = param.Integer(default=None, allow_None=True, doc="The fit last queued")

    def send(self, values: dict[str, Any]) -> None:
        """Queue a fit of the windows and horizons in `values` (see `fit_body`)."""
        self.param.update(message="", api_error=None)
        if not values["calibration_start"] or not values["calibration_end"]:
            self.refuse("Choose the calibration window's first and last day.")
            return
        body = fit_body(values)
        self.job.sending()

        def work() -> None:
            try:
                fit = self.client.create_clv_fit(body)
            except ApiError as error:
                message = f"The fit was refused: {error.message}"
                pn.state.execute(lambda error=error: self._refused(error, message))
                return
            pn.state.execute(lambda: self._queued(fit))

        in_background(work)

    def _queued(self, fit: dict[str, Any]) -> None:
        self.fit_id = fit["id"]
        job = {"id": fit["job_id"], "kind": JOB_KIND, "state": fit["state"]}
        self.job.follow(job, label=f"Fit #{fit['id']}")
