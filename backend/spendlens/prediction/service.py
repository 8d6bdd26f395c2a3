"""Business rules of the next-month purchase and churn models: a training is asked for in a
request and done by a job (spendlens.prediction.job); requests read the models and their test
predictions back, pick the active model of a target, and score one customer as of today.

Targets and features are defined in spendlens.prediction.features, the training and evaluation
method in spendlens.prediction.training.
"""

from __future__ import annotations

import calendar
import pickle
from datetime import date, timedelta

import sklearn
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.jobs.registry import enqueue
from spendlens.kit.dates import today_utc
from spendlens.models import Customer, Job, Organization, PredictionModel, User
from spendlens.prediction import features, repository, training
from spendlens.prediction.features import TARGETS, Target
from spendlens.prediction.schemas import (
    CustomerPredictionOut,
    CustomerTargetPrediction,
    ModelOut,
    ModelState,
    PredictionOut,
    TrainRequest,
)

JOB_KIND = "model_train"
DEFAULT_TRAIN_MONTHS = 12


# --- cutoffs --------------------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """`day` moved back `months` months: a month's last day maps to the earlier month's last
    day, any other day to the same day of the month (clamped to the month's length)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    length = calendar.monthrange(year, month)[1]
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, month, length)
    return date(year, month, min(day.day, length))


def default_train_cutoffs(test_cutoff: date, horizon_days: int) -> list[date]:
    """Monthly cutoffs in the year before the test cutoff whose label windows end on or before
    it, oldest first."""
    found = [months_before(test_cutoff, k) for k in range(1, DEFAULT_TRAIN_MONTHS + 1)]
    return sorted(c for c in found if c + timedelta(days=horizon_days) <= test_cutoff)


def check_cutoffs(body: TrainRequest, today: date) -> list[date]:
    """The training cutoffs to use (the body's or the default ones), or a 422."""
    horizon = TARGETS[body.target].horizon_days
    label_end = body.test_cutoff + timedelta(days=horizon)
    if label_end >= today:
        raise Unprocessable(
            f"The test cutoff's label window (days {body.test_cutoff + timedelta(days=1)} … "
            f"{label_end}) must end before today ({today}): its outcome is not known yet",
            loc=("body", "test_cutoff"),
        )
    if body.train_cutoffs is None:
        cutoffs = default_train_cutoffs(body.test_cutoff, horizon)
        if not cutoffs:  # not reachable with a 30- or 90-day horizon; kept for new targets
            raise Unprocessable("No default training cutoff fits", loc=("body", "train_cutoffs"))
        return cutoffs
    if len(set(body.train_cutoffs)) != len(body.train_cutoffs):
        raise Unprocessable("train_cutoffs repeats a day", loc=("body", "train_cutoffs"))
    late = [c for c in body.train_cutoffs if c + timedelta(days=horizon) > body.test_cutoff]
    if late:
        raise Unprocessable(
            f"Each training cutoff's label window ({horizon} days) must end on or before the "
            f"test cutoff {body.test_cutoff}; these do not: "
            + ", ".join(c.isoformat() for c in sorted(late)),
            loc=("body", "train_cutoffs"),
        )
    return sorted(body.train_cutoffs)


# --- requests -------------------------------------------------------------------------------------


def train(
    session: Session,
    org: Organization,
    user: User | None,
    body: TrainRequest,
    *,
    today: date | None = None,
) -> ModelOut:
    """Record the model and its training job and queue the job, in the caller's transaction."""
    cutoffs = check_cutoffs(body, today or today_utc())
    target = body.target.value
    params = {
        "target": target,
        "test_cutoff": body.test_cutoff.isoformat(),
        "train_cutoffs": [c.isoformat() for c in cutoffs],
    }
    job_id = enqueue(
        session.connection(), org.id, JOB_KIND, params, created_by=user.id if user else None
    )
    job = session.get(Job, (org.id, job_id))
    model = PredictionModel(
        org_id=org.id,
        job_id=job_id,
        target=target,
        version=repository.next_version(session, org.id, target),
        state=ModelState.queued.value,
        active=False,
        algorithm=training.ALGORITHM,
        baseline_algorithm=training.BASELINE_ALGORITHM,
        features=list(features.FEATURES),
        baseline_features=list(features.BASELINE_FEATURES),
        parameters={"model": training.MODEL_PARAMETERS, "baseline": training.BASELINE_PARAMETERS},
        test_cutoff=body.test_cutoff,
        train_cutoffs=params["train_cutoffs"],
        horizon_days=TARGETS[body.target].horizon_days,
        created_by=user.id if user else None,
    )
    session.add(model)
    session.flush()
    job.params = {**job.params, "model_id": model.id}
    session.flush()
    return to_out(model, job.state)


def state_of(model: PredictionModel, job_state: str) -> ModelState:
    """The model's own state once its job wrote it; before that its job's."""
    if model.state in (ModelState.done.value, ModelState.failed.value):
        return ModelState(model.state)
    if job_state == "running":
        return ModelState.running
    if job_state in ("failed", "cancelled"):
        return ModelState.failed
    return ModelState.queued


def to_out(model: PredictionModel, job_state: str) -> ModelOut:
    cutoffs = [date.fromisoformat(c) for c in model.train_cutoffs]
    return ModelOut.model_validate(
        {
            "id": model.id,
            "job_id": model.job_id,
            "version": model.version,
            "target": model.target,
            "state": state_of(model, job_state),
            "active": model.active,
            "error": model.error,
            "algorithm": model.algorithm,
            "baseline_algorithm": model.baseline_algorithm,
            "features": model.features,
            "baseline_features": model.baseline_features,
            "parameters": model.parameters,
            "training_window": {
                "train_cutoffs": cutoffs,
                "test_cutoff": model.test_cutoff,
                "horizon_days": model.horizon_days,
                "first_day": min(cutoffs),
                "last_label_day": model.test_cutoff + timedelta(days=model.horizon_days),
            },
            "threshold": model.threshold,
            "threshold_method": model.threshold_method,
            "metrics": model.metrics,
            "importances": model.importances,
            "training": model.training,
            "library_version": model.library_version,
            "created_at": model.created_at,
            "trained_at": model.trained_at,
        }
    )


def _found(session: Session, org_id: int, model_id: int) -> tuple[PredictionModel, str]:
    found = repository.get(session, org_id, model_id)
    if found is None:
        raise NotFound("Model not found")
    return found


def get_model(session: Session, org_id: int, model_id: int) -> ModelOut:
    return to_out(*_found(session, org_id, model_id))


def list_models(
    session: Session, org_id: int, *, target: Target | None, skip: int, limit: int
) -> tuple[list[ModelOut], int]:
    rows, total = repository.list_page(
        session, org_id, target=target.value if target else None, skip=skip, limit=limit
    )
    return [to_out(*row) for row in rows], total


def _require_done(model: PredictionModel, job_state: str) -> None:
    state = state_of(model, job_state)
    if state is not ModelState.done:
        raise Conflict(f"The model is not trained: its state is {state.value}")


def activate(session: Session, org_id: int, model_id: int) -> ModelOut:
    """Make the model its target's active one (the one customers are scored with)."""
    model, job_state = _found(session, org_id, model_id)
    _require_done(model, job_state)
    repository.deactivate_target(session, org_id, model.target)
    model.active = True
    session.flush()
    return to_out(model, job_state)


def list_predictions(
    session: Session, org_id: int, model_id: int, *, skip: int, limit: int
) -> tuple[list[PredictionOut], int]:
    model, job_state = _found(session, org_id, model_id)
    _require_done(model, job_state)
    rows, total = repository.predictions_page(session, org_id, model_id, skip=skip, limit=limit)
    return [PredictionOut.model_validate(row) for row in rows], total


# --- scoring one customer -------------------------------------------------------------------------


def load_estimator(session: Session, model: PredictionModel):
    """The fitted estimator, unpickled from the model's own row: only the training job writes
    that column, never a user. A model fitted by another scikit-learn version is refused."""
    if model.library_version != sklearn.__version__:
        raise Conflict(
            f"Model {model.id} was fitted with scikit-learn {model.library_version}; this server "
            f"runs {sklearn.__version__}: train it again"
        )
    data = repository.estimator_bytes(session, model.org_id, model.id)
    return pickle.loads(data)  # noqa: S301 - our own column, written only by the job


def customer_prediction(
    session: Session, org: Organization, customer_id: int, *, today: date | None = None
) -> CustomerPredictionOut:
    """The customer scored as of the end of today by each target's active model (else its
    latest trained one)."""
    if session.get(Customer, (org.id, customer_id)) is None:
        raise NotFound("Customer not found")
    as_of = today or today_utc()
    activity = None
    found = []
    for target in Target:
        model = repository.scoring_model(session, org.id, target.value)
        if model is None:
            continue
        if activity is None:
            activity = features.load_activity(
                session.connection(),
                org.id,
                org.base_currency,
                until=as_of,
                customer_id=customer_id,
            )
        frame = features.frame_at(activity, target, as_of, labels=False)
        probability = predicted = None
        if len(frame):
            estimator = load_estimator(session, model)
            # One row: OpenMP threads would cost more to wake than the prediction itself.
            with threadpool_limits(limits=1):
                probability = float(estimator.predict_proba(frame.features)[0, 1])
            predicted = probability >= model.threshold
        found.append(
            CustomerTargetPrediction(
                target=target,
                model_id=model.id,
                model_version=model.version,
                active=model.active,
                in_population=bool(len(frame)),
                probability=probability,
                predicted=predicted,
                threshold=model.threshold,
            )
        )
    return CustomerPredictionOut(customer_id=customer_id, as_of=as_of, predictions=found)
