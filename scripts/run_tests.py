"""`make test`: the API's tests and the dashboard's as two pytest processes, then one coverage
report.

The two groups share nothing but the PostgreSQL server (each creates its own databases), so by
default they run side by side, which roughly halves the wall time on a two-core machine; set
SPENDLENS_TEST_SERIAL=1 to run them one after the other. Each group's output is printed as it
comes, each line tagged with its group, and kept whole in test-output/pytest-<group>.log.

Extra arguments go to both pytest runs (e.g. `-x`, `-k name`). Coverage adds up over both groups
and fails under the `fail_under` of pyproject.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"backend": "backend/tests", "frontend": "frontend/tests"}


def _pump(name: str, process: subprocess.Popen, log_path: Path, lock: threading.Lock) -> None:
    with open(log_path, "w", encoding="utf-8") as log:
        for line in process.stdout:
            log.write(line)
            with lock:
                sys.stdout.write(f"[{name}] {line}")
                sys.stdout.flush()


def main(extra: list[str]) -> int:
    logs = ROOT / "test-output"
    logs.mkdir(exist_ok=True)
    for stale in ROOT.glob(".coverage*"):
        stale.unlink()
    serial = os.environ.get("SPENDLENS_TEST_SERIAL") == "1"
    lock = threading.Lock()
    codes: dict[str, int] = {}
    running: list[tuple[str, subprocess.Popen, threading.Thread]] = []
    for name, path in GROUPS.items():
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--cov",
            "--cov-report=",
            "--cov-fail-under=0",
            "--durations=10",
            "-p",
            "no:cacheprovider",
            *extra,
            path,
        ]
        env = dict(os.environ, COVERAGE_FILE=str(ROOT / f".coverage.{name}"), PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        pump = threading.Thread(
            target=_pump, args=(name, process, logs / f"pytest-{name}.log", lock)
        )
        pump.start()
        running.append((name, process, pump))
        if serial:
            codes[name] = process.wait()
            pump.join()
    for name, process, pump in running:
        codes.setdefault(name, process.wait())
        pump.join()

    coverage = [sys.executable, "-m", "coverage"]
    subprocess.run(
        [*coverage, "combine", *(f".coverage.{n}" for n in GROUPS)], cwd=ROOT, check=True
    )
    report = subprocess.run(
        [*coverage, "report", "--show-missing", "--skip-covered"], cwd=ROOT
    ).returncode
    for name, code in codes.items():
        print(f"{name}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    if report != 0:
        print("coverage: under the minimum of pyproject.toml")
    return max([*codes.values(), report])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
