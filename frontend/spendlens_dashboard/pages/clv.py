"""The Lifetime value page: the organisation's latest CLV fit (BG/NBD + Gamma-Gamma) with its
parameters, its holdout check, the CLV distribution, P(alive) by recency and frequency and the
top customers by CLV; analysts and admins fit a new model from a form and follow its job.

Viewers see the results only.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime

import panel as pn
import param

from spendlens_dashboard import clv_charts
from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.job_progress import JobProgress
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.formatting import format_count, format_money
from spendlens_dashboard.state.clv import (
    ClvFitStore,
    ClvStore,
    default_windows,
    distribution_frame,
    evaluation_frame,
    format_fixed,
    format_number,
    format_percent,
    format_yes_no,
    p_alive_frame,
    top_customers_frame,
)

NO_FIT_MESSAGE = "No model fitted yet."
TOP_TITLES = {
    "rank": "#",
    "customer_id": "Customer",
    "name": "Name",
    "external_id": "External ID",
    "frequency": "Repeat purchases",
    "p_alive": "P(alive)",
    "expected_purchases": "Expected purchases",
    "expected_spend": "Spend per purchase",
    "clv": "Lifetime value",
}
FIGURES_CSS = """
.clv-figures { display: flex; gap: 12px; flex-wrap: wrap; }
.clv-figure { padding: 8px 12px; border-radius: 8px; min-width: 130px;
              border: 1px solid var(--panel-border-color, #ddd); }
.clv-figure .label { font-size: 0.8rem; opacity: 0.75; }
.clv-figure .value { font-size: 1.2rem; font-weight: 600; }
.clv-figure .unit { font-size: 0.8rem; font-weight: 400; opacity: 0.75; }
.clv-group { font-weight: 600; margin: 10px 0 4px; }
"""


def _figure(attribute: str, key: str, label: str, value: str, unit: str = "") -> str:
    unit_html = f' <span class="unit">{html.escape(unit)}</span>' if unit else ""
    return (
        f'<div class="clv-figure"><div class="label">{html.escape(label)}</div>'
        f'<div class="value"><span {attribute}="{key}">{html.escape(value)}</span>{unit_html}'
        "</div></div>"
    )


def fit_heading_html(fit: dict) -> str:
    """Which fit is shown: its id, windows, when it was scored and fitted."""
    holdout = f" · holdout to {fit['holdout_end']}" if fit.get("holdout_end") else " · no holdout"
    fitted = (fit.get("fitted_at") or "")[:16].replace("T", " ")
    return (
        f'<p class="clv-fit-heading">Fit #<b data-clv-fit-id>{fit["id"]}</b> '
        f"({html.escape(fit.get('model_version') or '')}) · calibration "
        f"{fit['calibration_start']} → {fit['calibration_end']}{holdout} · estimates as of "
        f"{fit.get('scored_as_of') or '–'} · fitted {html.escape(fitted)} UTC</p>"
    )


def parameters_html(fit: dict) -> str:
    """The models' parameters and fit figures, each with a data-clv-param attribute (tests)."""
    bg, gg = fit.get("bgnbd") or {}, fit.get("gamma_gamma") or {}
    unit = f"{fit.get('time_unit') or 'week'}s"
    attr = "data-clv-param"
    bgnbd = [
        _figure(attr, "bgnbd-r", "r (shape)", format_number(bg.get("r"))),
        _figure(attr, "bgnbd-alpha", "alpha (scale)", format_number(bg.get("alpha")), unit),
        _figure(attr, "bgnbd-a", "a", format_number(bg.get("a"))),
        _figure(attr, "bgnbd-b", "b", format_number(bg.get("b"))),
        _figure(
            attr, "bgnbd-log_likelihood", "Log-likelihood", format_fixed(bg.get("log_likelihood"))
        ),
    ]
    gamma = [
        _figure(attr, "gamma_gamma-p", "p", format_number(gg.get("p"))),
        _figure(attr, "gamma_gamma-q", "q", format_number(gg.get("q"))),
        _figure(attr, "gamma_gamma-v", "v", format_number(gg.get("v"))),
        _figure(
            attr,
            "gamma_gamma-log_likelihood",
            "Log-likelihood",
            format_fixed(gg.get("log_likelihood")),
        ),
    ]
    data = [
        _figure(attr, "customers", "Customers fitted", format_count(fit.get("customers"))),
        _figure(attr, "repeat_buyers", "Repeat buyers", format_count(fit.get("repeat_buyers"))),
        _figure(attr, "converged", "Converged", format_yes_no(fit.get("converged"))),
    ]
    return (
        '<div class="clv-group">BG/NBD — purchases and dropout</div>'
        f'<div class="clv-figures">{"".join(bgnbd)}</div>'
        '<div class="clv-group">Gamma-Gamma — spend per purchase</div>'
        f'<div class="clv-figures">{"".join(gamma)}</div>'
        '<div class="clv-group">Data</div>'
        f'<div class="clv-figures">{"".join(data)}</div>'
    )


def evaluation_html(fit: dict) -> str:
    """The holdout figures, each with a data-clv-eval attribute; a note without a holdout."""
    evaluation = fit.get("evaluation")
    if not evaluation:
        return '<p class="clv-no-holdout">This fit has no holdout period, so no check.</p>'
    attr = "data-clv-eval"
    figures = [
        _figure(attr, "mae", "MAE", format_fixed(evaluation["mae"], 3), "per customer"),
        _figure(attr, "rmse", "RMSE", format_fixed(evaluation["rmse"], 3)),
        _figure(attr, "correlation", "Correlation", format_fixed(evaluation["correlation"], 3)),
        _figure(
            attr,
            "aggregate_error",
            "Aggregate error",
            format_percent(evaluation["aggregate_error"], signed=True),
        ),
        _figure(
            attr,
            "predicted_total",
            "Predicted purchases",
            format_fixed(evaluation["predicted_total"], 1),
        ),
        _figure(
            attr, "actual_total", "Actual purchases", format_fixed(evaluation["actual_total"], 1)
        ),
    ]
    period = (
        f"<p>Holdout {evaluation['holdout_start']} → {evaluation['holdout_end']}: the repeat "
        f"purchases the model predicted for the {format_count(evaluation['customers'])} fitted "
        "customers against those they made.</p>"
    )
    return f'{period}<div class="clv-figures">{"".join(figures)}</div>'


def distribution_note(summary: dict | None, fit: dict, currency: str) -> str:
    dist = (summary or {}).get("clv_distribution") or {}
    if not dist.get("customers"):
        return "No customer has a lifetime value in this fit."
    note = (
        f"{format_count(dist['customers'])} customers · median "
        f"{format_money(dist.get('median'), currency)} · top 1% from "
        f"{format_money(dist.get('cap'), currency)} · highest "
        f"{format_money(dist.get('maximum'), currency)} · total "
        f"{format_money(dist.get('clv_total'), currency)} over {fit['clv_horizon_days']} days"
    )
    if dist.get("without_clv"):
        note += f" · {format_count(dist['without_clv'])} without a value"
    return note


class FitForm(pn.viewable.Viewer):
    """Calibration and holdout windows and horizons; "Fit model" hands them to the fit store,
    whose job the progress view follows."""

    def __init__(self, store: ClvFitStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.defaults_set = False
        self.calibration_start = pn.widgets.DatePicker(
            label="Calibration from", width=160, css_classes=["clv-calibration-start"]
        )
        self.calibration_end = pn.widgets.DatePicker(
            label="Calibration to", width=160, css_classes=["clv-calibration-end"]
        )
        self.holdout_end = pn.widgets.DatePicker(
            label="Holdout to (empty: none)", width=180, css_classes=["clv-holdout-end"]
        )
        self.purchases_horizon = pn.widgets.IntInput(
            label="Purchases horizon (days)", value=90, start=1, end=3650, width=170
        )
        self.clv_horizon = pn.widgets.IntInput(
            label="CLV horizon (days)", value=365, start=1, end=3650, width=150
        )
        self.discount = pn.widgets.FloatInput(
            label="Monthly discount rate", value=0.0, start=0, end=1, step=0.005, width=160
        )
        self.submit = pn.widgets.Button(
            label="Fit model", color="primary", width=140, css_classes=["clv-fit-button"]
        )
        self.submit.on_click(lambda _: store.send(self.values()))
        self.status = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.progress = JobProgress(store.job, css_class="clv-fit-progress", unit="steps")
        store.param.watch(self._refused, "message")
        store.job.param.watch(self._following, "following")
        self._layout = pn.Card(
            pn.pane.Markdown(
                "The models learn from the customers acquired in the calibration window (their "
                "purchases up to its end), are checked on the holdout period right after it, "
                "then score every customer from their purchases up to the holdout's end. The "
                "defaults hold out the last 90 days of data."
            ),
            pn.FlexBox(
                self.calibration_start,
                self.calibration_end,
                self.holdout_end,
                self.purchases_horizon,
                self.clv_horizon,
                self.discount,
            ),
            self.submit,
            self.status,
            self.progress,
            title="Fit a model",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["clv-fit-form"],
        )

    def set_defaults(self, first_day: date | None, last_day: date | None) -> None:
        """Windows from the data (once: what the analyst changed afterwards stays)."""
        if self.defaults_set:
            return
        self.defaults_set = True
        values = default_windows(first_day, last_day, datetime.now(UTC).date())
        with pn.io.hold():
            self.calibration_start.value = values["calibration_start"]
            self.calibration_end.value = values["calibration_end"]
            self.holdout_end.value = values["holdout_end"]
            self.purchases_horizon.value = values["purchases_horizon_days"]
            self.clv_horizon.value = values["clv_horizon_days"]
            self.discount.value = values["monthly_discount_rate"]

    def values(self) -> dict:
        return {
            "calibration_start": self.calibration_start.value,
            "calibration_end": self.calibration_end.value,
            "holdout_end": self.holdout_end.value,
            "purchases_horizon_days": self.purchases_horizon.value,
            "clv_horizon_days": self.clv_horizon.value,
            "monthly_discount_rate": self.discount.value or 0.0,
        }

    def _refused(self, event: param.parameterized.Event) -> None:
        self.status.param.update(object=html.escape(event.new), visible=bool(event.new))

    def _following(self, event: param.parameterized.Event) -> None:
        self.submit.disabled = event.new

    def dispose(self) -> None:
        self.store.dispose()

    def __panel__(self):
        return self._layout


class ClvPage(pn.viewable.Viewer):
    title = "Lifetime value"

    def __init__(
        self, store: ClvStore, currency: str, form: FitForm | None = None, **params
    ) -> None:
        super().__init__(**params)
        self.store = store
        self.currency = currency
        self.form = form
        self.refresh_button = pn.widgets.Button(
            label="Refresh", variant="outline", width=100, css_classes=["clv-refresh"]
        )
        self.refresh_button.on_click(lambda _: store.load())
        self.empty = pn.pane.Alert(
            "", alert_type="info", visible=False, sizing_mode="stretch_width",
            css_classes=["clv-empty"],
        )  # fmt: skip
        self.failed = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width",
            css_classes=["clv-failed"],
        )  # fmt: skip
        self.pending = pn.pane.Alert(
            "", alert_type="info", visible=False, sizing_mode="stretch_width",
            css_classes=["clv-pending"],
        )  # fmt: skip
        self.heading = pn.pane.HTML("", sizing_mode="stretch_width")
        self.warnings = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width",
            css_classes=["clv-warnings"],
        )  # fmt: skip
        self.parameters = pn.pane.HTML(
            "", stylesheets=[FIGURES_CSS], sizing_mode="stretch_width",
            css_classes=["clv-parameters"],
        )  # fmt: skip
        self.evaluation = pn.pane.HTML(
            "", stylesheets=[FIGURES_CSS], sizing_mode="stretch_width",
            css_classes=["clv-evaluation"],
        )  # fmt: skip
        self.holdout_chart = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", height=340, css_classes=["clv-holdout-chart"]
        )
        self.distribution_chart = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", height=340, css_classes=["clv-distribution-chart"]
        )
        self.distribution_note = pn.pane.Markdown("", css_classes=["clv-distribution-note"])
        self.heatmap = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", height=380, css_classes=["clv-p-alive-chart"]
        )
        self.top = FrameTabulator(
            top_customers_frame([], currency),
            show_index=False,
            disabled=True,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            titles=TOP_TITLES,
            formatters={"customer_id": {"type": "plaintext"}},
            text_align={
                c: "right"
                for c in ("frequency", "p_alive", "expected_purchases", "expected_spend", "clv")
            },
            css_classes=["clv-top-customers"],
            stylesheets=[":host .tabulator { font-size: 0.85rem; }"],
        )
        self.results = pn.Column(
            self.heading,
            self.warnings,
            pn.Card(
                self.parameters,
                title="Model parameters",
                collapsed=False,
                sizing_mode="stretch_width",
            ),
            pn.Card(
                self.evaluation,
                self.holdout_chart,
                title="Holdout check",
                collapsed=False,
                sizing_mode="stretch_width",
            ),
            pn.Card(
                self.distribution_note,
                self.distribution_chart,
                self.heatmap,
                pn.pane.Markdown(
                    "P(alive): the probability that a customer still buys, averaged per cell "
                    "of time since their last purchase and number of repeat purchases."
                ),
                title="Lifetime value and P(alive)",
                collapsed=False,
                sizing_mode="stretch_width",
            ),
            pn.Card(
                self.top,
                title="Top customers by lifetime value",
                collapsed=False,
                sizing_mode="stretch_width",
            ),
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["clv-results"],
        )
        self._layout = pn.Column(
            pn.Row(
                pn.pane.Markdown(
                    "Customer lifetime value from a BG/NBD model of repeat purchases and "
                    "dropout and a Gamma-Gamma model of spend per purchase.",
                    sizing_mode="stretch_width",
                ),
                self.refresh_button,
                sizing_mode="stretch_width",
            ),
            self.pending,
            self.failed,
            self.empty,
            *([form] if form is not None else []),
            self.results,
            sizing_mode="stretch_width",
            css_classes=["clv-page"],
        )
        store.param.watch(DelayedLoading(self.results), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")
        if store.loaded:
            self._draw_now()

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store, fit = self.store, self.store.fit
        if self.form is not None:
            self.form.set_defaults(store.first_day, store.last_day)
        pending, failed = store.pending, store.failed
        self.pending.param.update(
            object=(
                f"Fit #{pending['id']} is {pending['state']}; its results appear here when it "
                "is done (Refresh)."
                if pending
                else ""
            ),
            visible=pending is not None,
        )
        self.failed.param.update(
            object=(
                html.escape(f"Fit #{failed['id']} failed: {failed.get('error') or 'no reason'}")
                if failed
                else ""
            ),
            visible=failed is not None,
        )
        if fit is None:
            action = (
                "Fit one with the form below."
                if self.form is not None
                else "An analyst or admin can fit one on this page."
            )
            self.empty.param.update(object=f"**{NO_FIT_MESSAGE}** {action}", visible=True)
            self.results.visible = False
            return
        self.empty.visible = False
        self.heading.object = fit_heading_html(fit)
        warnings = fit.get("warnings") or []
        self.warnings.param.update(
            object="\n".join(f"- {html.escape(w)}" for w in warnings), visible=bool(warnings)
        )
        self.parameters.object = parameters_html(fit)
        self.evaluation.object = evaluation_html(fit)
        evaluation = evaluation_frame(fit)
        self.holdout_chart.visible = not evaluation.empty
        if not evaluation.empty:
            self.holdout_chart.object = clv_charts.holdout_comparison(evaluation)
        self.distribution_note.object = distribution_note(store.summary, fit, self.currency)
        self.distribution_chart.object = clv_charts.clv_distribution(
            distribution_frame(store.summary), currency=self.currency
        )
        self.heatmap.object = clv_charts.p_alive_heatmap(p_alive_frame(store.summary))
        self.top.value = store.top
        self.results.visible = True

    def dispose(self) -> None:
        if self.form is not None:
            self.form.dispose()

    def __panel__(self):
        return self._layout
