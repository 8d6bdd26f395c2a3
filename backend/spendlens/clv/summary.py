"""Aggregates of a fit's estimates for GET /clv/fits/{id}/summary: the CLV distribution in round
bins and the P(alive) matrix by recency and frequency (see ClvDistribution and PAliveMatrix)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy.orm import Session

from spendlens.clv import repository

CAP_QUANTILE = 0.99
TARGET_BINS = 20
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
RECENCY_BUCKETS = (
    (0, "< 1 wk"),
    (7, "1–4 wk"),
    (28, "4–8 wk"),
    (56, "8–13 wk"),
    (91, "13–26 wk"),
    (182, "26–52 wk"),
    (364, "52–104 wk"),
    (728, "104+ wk"),
)
FREQUENCY_BUCKETS = (
    (0, "0"),
    (1, "1"),
    (2, "2"),
    (3, "3–4"),
    (5, "5–9"),
    (10, "10–19"),
    (20, "20–49"),
    (50, "50–99"),
    (100, "100–199"),
    (200, "200+"),
)


def nice_width(span: Decimal, target_bins: int = TARGET_BINS) -> Decimal:
    """The smallest round width (1, 2, 2.5 or 5 × 10^k, at least a cent) with which
    `target_bins` bins cover `span`."""
    raw = span / target_bins
    if raw <= Decimal("0.01"):
        return Decimal("0.01")
    exponent = raw.adjusted()  # raw = d.ddd × 10^exponent
    for power in (exponent, exponent + 1):
        for step in NICE_STEPS:
            width = step.scaleb(power)
            if width >= raw:
                return width
    raise AssertionError("unreachable")  # pragma: no cover


def clv_distribution(session: Session, org_id: int, fit_id: int) -> dict[str, Any]:
    stats = repository.clv_statistics(session, org_id, fit_id, CAP_QUANTILE)
    out: dict[str, Any] = {
        "customers": stats.customers,
        "without_clv": stats.without_clv,
        "clv_total": stats.total,
        "median": stats.median,
        "maximum": stats.maximum,
        "cap_quantile": CAP_QUANTILE,
        "cap": stats.cap,
        "bin_width": None,
        "bins": [],
    }
    if not stats.customers:
        return out
    # Everyone at 0 up to the quantile: spread the bins up to the maximum instead.
    span = stats.cap if stats.cap > 0 else stats.maximum
    width = nice_width(span)
    # Enough regular bins to reach the cap (Decimal's // truncates: round up explicitly).
    regular = max(1, int((span / width).to_integral_value(rounding=ROUND_CEILING)))
    counts = repository.clv_bins(session, org_id, fit_id, width=width, bins=regular)
    bins = []
    for k in range(regular + 1):
        customers, total = counts.get(k, (0, Decimal(0)))
        if k == regular and not customers:
            break  # no one above the regular bins
        bins.append(
            {
                "low": width * k,
                "high": width * (k + 1) if k < regular else None,
                "customers": customers,
                "clv_total": total,
            }
        )
    out.update(bin_width=width, bins=bins)
    return out


def p_alive_matrix(session: Session, org_id: int, fit_id: int) -> dict[str, Any]:
    cells = repository.p_alive_cells(
        session,
        org_id,
        fit_id,
        recency_edges_days=[edge for edge, _ in RECENCY_BUCKETS],
        frequency_edges=[edge for edge, _ in FREQUENCY_BUCKETS],
    )
    return {
        "recency_buckets": [label for _, label in RECENCY_BUCKETS],
        "recency_edges_days": [edge for edge, _ in RECENCY_BUCKETS],
        "frequency_buckets": [label for _, label in FREQUENCY_BUCKETS],
        "frequency_edges": [edge for edge, _ in FREQUENCY_BUCKETS],
        "cells": [
            {
                "recency": r_label,
                "frequency": f_label,
                "customers": cells.get((r, f), (0, None))[0],
                "mean_p_alive": cells.get((r, f), (0, None))[1],
            }
            for r, (_, r_label) in enumerate(RECENCY_BUCKETS)
            for f, (_, f_label) in enumerate(FREQUENCY_BUCKETS)
        ],
    }
