"""The training job: features and labels of every training cutoff and of the test cutoff from
one load of the organisation's purchase and event days, the model and its baseline fitted and
evaluated (spendlens.prediction.training), and the model, its metrics, its fitted estimator and
its test predictions written in one transaction."""

from __future__ import annotations

import pickle
import time
from datetime import date, timedelta

import numpy as np
import sklearn
from sqlalchemy import Connection, func
from threadpoolctl import threadpool_limits

from spendlens.clv.repository import base_currency
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress
from spendlens.prediction import features, repository, training
from spendlens.prediction.features import TARGETS, Target
from spendlens.prediction.service import JOB_KIND

# Below these the job refuses to train: the figures would mean nothing.
MIN_TRAIN_ROWS = 50
MIN_TEST_ROWS = 10
STEPS = 4  # features, model, baseline, predictions
# scikit-learn's OpenMP threads spin when the cores are busy elsewhere; one thread per job
# keeps a training predictable on a shared machine (see bench/README.md).
TRAINING_THREADS = 1


def _refuse(conn: Connection, job: JobRecord, model_id: int, message: str) -> JobOutcome:
    repository.save_model(conn, job.org_id, model_id, state="failed", error=message)
    return JobOutcome("failed", {"model_id": model_id, "error": message, "retryable": False})


def _predictions(
    org_id: int,
    model_id: int,
    test: features.CutoffFrame,
    model: training.Evaluated,
    baseline: training.Evaluated,
) -> list[dict]:
    return [
        {
            "org_id": org_id,
            "model_id": model_id,
            "customer_id": customer_id,
            "probability": probability,
            "predicted": probability >= model.threshold,
            "actual": bool(actual),
            "baseline_probability": base,
            "baseline_predicted": base >= baseline.threshold,
        }
        for customer_id, probability, actual, base in zip(
            test.customer_id.tolist(),
            model.probability.tolist(),
            test.labels.tolist(),
            baseline.probability.tolist(),
        )
    ]


@job_kind(JOB_KIND, task="prediction.train")
def execute_training(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """Train one model beside its baseline on the training cutoffs and test both on the test
    cutoff; one transaction."""
    row = repository.model_for_job(conn, job.org_id, job.id)
    if row is None:
        return JobOutcome("failed", {"error": "The model was deleted", "retryable": False})
    target = Target(row.target)
    test_cutoff: date = row.test_cutoff
    train_cutoffs = [date.fromisoformat(c) for c in row.train_cutoffs]
    horizon = TARGETS[target].horizon_days
    progress.set_total(STEPS)
    started = time.perf_counter()

    with progress.phase("features"):
        activity = features.load_activity(
            conn,
            job.org_id,
            base_currency(conn, job.org_id),
            until=test_cutoff + timedelta(days=horizon),
        )
        frames = [features.frame_at(activity, target, c, labels=True) for c in train_cutoffs]
        test = features.frame_at(activity, target, test_cutoff, labels=True)
    progress.advance(1)
    X_train = np.vstack([f.features for f in frames])
    y_train = np.concatenate([f.labels for f in frames])
    groups = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)])
    if y_train.size < MIN_TRAIN_ROWS or np.unique(y_train).size < 2:
        return _refuse(
            conn,
            job,
            row.id,
            f"Too little to train on: {y_train.size} rows over the training cutoffs, "
            f"{int(y_train.sum())} positive; at least {MIN_TRAIN_ROWS} rows of both classes "
            "are needed",
        )
    if len(test) < MIN_TEST_ROWS:
        return _refuse(
            conn,
            job,
            row.id,
            f"The test cutoff has {len(test)} customers in the population; at least "
            f"{MIN_TEST_ROWS} are needed",
        )

    names = list(features.FEATURES)
    rfm = [names.index(n) for n in features.BASELINE_FEATURES]
    with threadpool_limits(limits=TRAINING_THREADS):
        with progress.phase("model"):
            model = training.fit_and_evaluate(
                training.make_model, X_train, y_train, groups, test.features, test.labels, names
            )
        progress.advance(2)
        with progress.phase("baseline"):
            baseline = training.fit_and_evaluate(
                training.make_baseline,
                X_train[:, rfm],
                y_train,
                groups,
                test.features[:, rfm],
                test.labels,
                list(features.BASELINE_FEATURES),
            )
        progress.advance(3)

    with progress.phase("predictions"):
        repository.insert_predictions(conn, _predictions(job.org_id, row.id, test, model, baseline))
        seconds = dict(progress.seconds)
        seconds["total"] = round(time.perf_counter() - started, 3)
        repository.save_model(
            conn,
            job.org_id,
            row.id,
            state="done",
            error=None,
            metrics={"model": model.metrics, "baseline": baseline.metrics},
            importances={"model": model.importances, "baseline": baseline.importances},
            training={
                "train_rows": int(y_train.size),
                "train_positive_rate": float(y_train.mean()),
                "rows_per_cutoff": {
                    f.cutoff.isoformat(): {"rows": len(f), "positives": int(f.labels.sum())}
                    for f in frames
                },
                "test_rows": len(test),
                "customers_loaded": len(activity),
                "seconds": seconds,
            },
            threshold=model.threshold,
            threshold_method=training.THRESHOLD_METHOD,
            estimator=pickle.dumps(model.estimator, protocol=pickle.HIGHEST_PROTOCOL),
            library_version=sklearn.__version__,
            trained_at=func.clock_timestamp(),
        )
    progress.advance(4)
    return JobOutcome(
        "succeeded",
        {
            "model_id": row.id,
            "target": target.value,
            "train_rows": int(y_train.size),
            "test_rows": len(test),
            "f1": model.metrics["f1"],
            "baseline_f1": baseline.metrics["f1"],
        },
    )
