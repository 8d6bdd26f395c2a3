"""The fit job is known to workers: its task is registered under the name its job kind maps to,
and running it goes through the job runner with the fit's work."""

from __future__ import annotations

import importlib

from spendlens.clv import service, tasks
from spendlens.jobs.queue import TASK_MODULES, TASKS_BY_KIND, queue


def test_every_tracked_job_kind_has_a_registered_task():
    for module in TASK_MODULES:
        importlib.import_module(module)
    assert TASKS_BY_KIND[service.JOB_KIND] == "clv.fit"
    for task_name in TASKS_BY_KIND.values():
        assert task_name in queue.tasks


def test_the_task_runs_the_fit_through_the_job_runner(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks, "run_job", lambda *args: calls.append(args) or "succeeded")
    assert tasks.run_fit(org_id=7, job_id=11) == "succeeded"
    assert calls == [(7, 11, service.execute_fit)]
