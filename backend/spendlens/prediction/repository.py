"""Queries of the prediction models and their predictions, always within one organisation."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from spendlens.models import Job, Prediction, PredictionModel

models = PredictionModel.__table__
predictions = Prediction.__table__
jobs = Job.__table__


def next_version(session: Session, org_id: int, target: str) -> int:
    """The next version number of `target`'s models; concurrent requests queue on a lock."""
    session.execute(
        select(func.pg_advisory_xact_lock(0x5E4A0C, func.hashtext(f"{org_id}:{target}")))
    )
    latest = session.execute(
        select(func.max(PredictionModel.version)).where(
            PredictionModel.org_id == org_id, PredictionModel.target == target
        )
    ).scalar_one()
    return (latest or 0) + 1


def _with_job():
    return select(PredictionModel, jobs.c.state).join(
        jobs, (jobs.c.org_id == PredictionModel.org_id) & (jobs.c.id == PredictionModel.job_id)
    )


def get(session: Session, org_id: int, model_id: int) -> tuple[PredictionModel, str] | None:
    """The model and its job's state."""
    row = session.execute(
        _with_job().where(PredictionModel.org_id == org_id, PredictionModel.id == model_id)
    ).first()
    return (row[0], row[1]) if row else None


def list_page(
    session: Session, org_id: int, *, target: str | None, skip: int, limit: int
) -> tuple[list[tuple[PredictionModel, str]], int]:
    scope = [PredictionModel.org_id == org_id]
    if target is not None:
        scope.append(PredictionModel.target == target)
    total = session.execute(
        select(func.count()).select_from(PredictionModel).where(*scope)
    ).scalar_one()
    rows = session.execute(
        _with_job()
        .where(*scope)
        .order_by(PredictionModel.created_at.desc(), PredictionModel.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows], total


def deactivate_target(session: Session, org_id: int, target: str) -> None:
    session.execute(
        update(PredictionModel)
        .where(
            PredictionModel.org_id == org_id,
            PredictionModel.target == target,
            PredictionModel.active.is_(True),
        )
        .values(active=False)
    )
    session.flush()


def scoring_model(session: Session, org_id: int, target: str) -> PredictionModel | None:
    """The target's active model, else its latest trained one (None without a trained one)."""
    return session.execute(
        select(PredictionModel)
        .where(
            PredictionModel.org_id == org_id,
            PredictionModel.target == target,
            PredictionModel.state == "done",
        )
        .order_by(
            PredictionModel.active.desc(),
            PredictionModel.trained_at.desc(),
            PredictionModel.id.desc(),
        )
        .limit(1)
    ).scalar_one_or_none()


def estimator_bytes(session: Session, org_id: int, model_id: int) -> bytes | None:
    return session.execute(
        select(models.c.estimator).where(models.c.org_id == org_id, models.c.id == model_id)
    ).scalar_one_or_none()


def predictions_page(
    session: Session, org_id: int, model_id: int, *, skip: int, limit: int
) -> tuple[list[dict], int]:
    p = predictions.c
    scope = (p.org_id == org_id, p.model_id == model_id)
    total = session.execute(select(func.count()).where(*scope)).scalar_one()
    rows = session.execute(
        select(
            p.customer_id,
            p.probability,
            p.predicted,
            p.actual,
            p.baseline_probability,
            p.baseline_predicted,
        )
        .where(*scope)
        .order_by(p.customer_id)
        .offset(skip)
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows], total


# --- the job's writes (Core, on the job's connection) --------------------------------------------


def model_for_job(conn: Connection, org_id: int, job_id: int):
    query = select(models).where(models.c.org_id == org_id, models.c.job_id == job_id)
    return conn.execute(query).first()


def save_model(conn: Connection, org_id: int, model_id: int, **values) -> None:
    conn.execute(
        update(models).where(models.c.org_id == org_id, models.c.id == model_id).values(**values)
    )


def insert_predictions(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(predictions), rows)
