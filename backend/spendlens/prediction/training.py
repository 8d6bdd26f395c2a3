"""Fitting and evaluating one classifier beside its baseline (scikit-learn), with no database:
the job gives it the training cutoffs' rows and the test cutoff's rows.

- The model is a HistGradientBoostingClassifier on every feature (missing values allowed), the
  baseline a logistic regression on log(1 + x) of recency, frequency and monetary, standardised.
- The decision threshold of each is chosen on the training cutoffs only: out-of-fold
  probabilities (folds group whole cutoffs, never rows of one cutoff apart), and the threshold
  among 0.01 … 0.99 that maximises F1 on them. Then both are refitted on every training row.
- The test cutoff is only predicted and scored: accuracy, precision, recall, F1, ROC AUC, PR AUC
  (average precision), the confusion matrix and a 10-bin calibration curve, at that threshold.
- Feature importances: permutation importance on the test cutoff (drop of ROC AUC, mean over
  repeats, at most `IMPORTANCE_ROWS` rows drawn with a fixed seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

RANDOM_STATE = 0
ALGORITHM = "hist_gradient_boosting"
BASELINE_ALGORITHM = "logistic_regression_rfm"
MODEL_PARAMETERS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": RANDOM_STATE,
}
BASELINE_PARAMETERS: dict[str, Any] = {"C": 1.0, "max_iter": 1000}
THRESHOLDS = np.round(np.arange(1, 100) / 100, 2)
THRESHOLD_METHOD = (
    "the threshold in 0.01 … 0.99 that maximises F1 on out-of-fold probabilities of the "
    "training cutoffs (folds of whole cutoffs); test data never used"
)
MAX_FOLDS = 4
# The threshold is chosen on out-of-fold probabilities of at most this many training rows (drawn
# with a fixed seed): enough for a threshold, and the folds' fits stay bounded at 100,000s of
# customers. The final fit uses every row.
THRESHOLD_ROWS = 200_000
CALIBRATION_BINS = 10
IMPORTANCE_ROWS = 20_000
IMPORTANCE_REPEATS = 3


def make_model() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(**MODEL_PARAMETERS)


def make_baseline() -> Pipeline:
    return Pipeline(
        [
            # Recency, frequency and spend are skewed: their logarithms are closer to linear.
            ("log1p", FunctionTransformer(np.log1p)),
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(**BASELINE_PARAMETERS)),
        ]
    )


@dataclass(frozen=True)
class Evaluated:
    estimator: Any
    threshold: float
    train_f1: float  # F1 of the out-of-fold probabilities at the threshold
    probability: np.ndarray  # on the test rows
    metrics: dict[str, Any]
    importances: list[dict[str, Any]]


def choose_threshold(labels: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    """The threshold in THRESHOLDS with the best F1 (the lowest of ties), and that F1."""
    scores = [f1_score(labels, probability >= t, zero_division=0.0) for t in THRESHOLDS]
    best = int(np.argmax(scores))
    return float(THRESHOLDS[best]), float(scores[best])


def out_of_fold(make, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Probabilities for the training rows from models fitted without their cutoff (NaN for
    rows left out of the THRESHOLD_ROWS sample)."""
    probability = np.full(y.size, np.nan)
    if y.size > THRESHOLD_ROWS:
        rows = np.sort(
            np.random.default_rng(RANDOM_STATE).choice(y.size, THRESHOLD_ROWS, replace=False)
        )
        probability[rows] = out_of_fold(make, X[rows], y[rows], groups[rows])
        return probability
    folds = min(MAX_FOLDS, len(np.unique(groups)))
    probability = np.full(y.size, np.nan)
    if folds < 2:
        return probability
    for fit_rows, held_rows in GroupKFold(n_splits=folds).split(X, y, groups):
        if np.unique(y[fit_rows]).size < 2:
            probability[held_rows] = y[fit_rows][0]
            continue
        probability[held_rows] = (
            make().fit(X[fit_rows], y[fit_rows]).predict_proba(X[held_rows])[:, 1]
        )
    return probability


def classification_metrics(
    labels: np.ndarray, probability: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Every reported figure of one set of predictions (labels 0/1)."""
    predicted = probability >= threshold
    both = np.unique(labels).size == 2
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel().tolist()
    positives = int(labels.sum())
    return {
        "rows": int(labels.size),
        "positives": positives,
        "positive_rate": positives / labels.size if labels.size else None,
        "threshold": threshold,
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0.0)),
        "recall": float(recall_score(labels, predicted, zero_division=0.0)),
        "f1": float(f1_score(labels, predicted, zero_division=0.0)),
        # What predicting "yes" for everyone would score: the floor a model must beat.
        "f1_all_positive": float(f1_score(labels, np.ones_like(labels), zero_division=0.0)),
        "roc_auc": float(roc_auc_score(labels, probability)) if both else None,
        "pr_auc": float(average_precision_score(labels, probability)) if both else None,
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "calibration": calibration_bins(labels, probability),
    }


def calibration_bins(labels: np.ndarray, probability: np.ndarray) -> list[dict[str, Any]]:
    """CALIBRATION_BINS equal-width bins of the predicted probability ([0, 0.1), …, [0.9, 1]):
    per bin the rows, the mean predicted probability and the share of positives (None when
    empty)."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(probability, edges[1:-1], right=False), 0, CALIBRATION_BINS - 1)
    bins = []
    for b in range(CALIBRATION_BINS):
        inside = which == b
        count = int(inside.sum())
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "rows": count,
                "mean_predicted": float(probability[inside].mean()) if count else None,
                "fraction_positive": float(labels[inside].mean()) if count else None,
            }
        )
    return bins


def importances(
    estimator: Any, X: np.ndarray, y: np.ndarray, names: list[str]
) -> list[dict[str, Any]]:
    """Permutation importance (drop in ROC AUC) on the test rows, largest first."""
    if np.unique(y).size < 2:
        return [{"feature": name, "importance": None, "std": None} for name in names]
    if y.size > IMPORTANCE_ROWS:
        rows = np.random.default_rng(RANDOM_STATE).choice(y.size, IMPORTANCE_ROWS, replace=False)
        X, y = X[rows], y[rows]
    found = permutation_importance(
        estimator,
        X,
        y,
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=RANDOM_STATE,
    )
    ranked = sorted(
        zip(names, found.importances_mean.tolist(), found.importances_std.tolist()),
        key=lambda item: -item[1],
    )
    return [{"feature": n, "importance": m, "std": s} for n, m, s in ranked]


def fit_and_evaluate(
    make,
    X_train: np.ndarray,
    y_train: np.ndarray,
    groups: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    names: list[str],
) -> Evaluated:
    """Choose the threshold out of fold, refit on every training row, score the test rows."""
    oof = out_of_fold(make, X_train, y_train, groups)
    known = ~np.isnan(oof)
    if known.any():
        threshold, train_f1 = choose_threshold(y_train[known], oof[known])
    else:
        threshold, train_f1 = 0.5, float("nan")
    estimator = make().fit(X_train, y_train)
    probability = estimator.predict_proba(X_test)[:, 1].astype(float)
    metrics = classification_metrics(y_test, probability, threshold)
    metrics["train_out_of_fold_f1"] = train_f1 if np.isfinite(train_f1) else None
    return Evaluated(
        estimator,
        threshold,
        train_f1,
        probability,
        metrics,
        importances(estimator, X_test, y_test, names),
    )
