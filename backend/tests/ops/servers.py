"""Real processes for the resilience tests: the API under uvicorn in a process of its own, and a
PostgreSQL server of its own that a test can stop and start again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from spendlens.testing import free_port

ROOT = Path(__file__).resolve().parents[3]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class ApiProcess:
    """`spendlens serve` on a free port against `database_url`, with extra SPENDLENS_* settings."""

    database_url: str
    settings: dict[str, str] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spendlens-api-")))
    process: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> "ApiProcess":
        port = free_port()
        env = dict(os.environ, SPENDLENS_DATABASE_URL=self.database_url, **self.settings)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "backend"), str(ROOT / "frontend"), env.get("PYTHONPATH", "")]
        )
        self.log = open(self.log_dir / "api.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spendlens.cli", "serve", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_for(self._up, 60, "the API to start")
        return self

    def _up(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.logs()
        try:
            return httpx.get(self.url + "/livez", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def logs(self) -> str:
        return (self.log_dir / "api.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.log_dir, ignore_errors=True)


class OwnPostgres:
    """A throwaway PostgreSQL cluster (Debian's binaries) on a free TCP port, which a test can
    stop and start like an outage. As root, the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="spendlens-own-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "pg_ctl").exists()

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> "OwnPostgres":
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        log = str(self.folder / "pg.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
