"""The production configuration, started for a test or a load run: gunicorn, gunicorn.conf.py, loopback.

`ProductionServer` runs `gunicorn app:server` from the project folder (so gunicorn reads
`gunicorn.conf.py` as it would in production) on a free 127.0.0.1 port, with the app's settings
in the environment and its databases and caches in a work folder. While it runs, a thread samples
the resident memory of every worker; afterwards its log says whether anything went wrong:
tracebacks, HTTP 500 answers, workers killed or restarted.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from recommender.settings import PROJECT_ROOT

__all__ = ["ProductionServer", "LogFindings", "free_port"]

MIB = 2**20
_STATUS_500 = re.compile(r'" 5\d\d ')  # in gunicorn's access log line: "GET / HTTP/1.1" 500 ...
_KILLED = re.compile(r"WORKER TIMEOUT|was sent SIGKILL|was sent SIGTERM|Worker \(pid:\d+\) was sent|"
                     r"Perhaps out of memory|Autorestarting worker|replacing it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LogFindings:
    """What the server's log says about a run."""

    tracebacks: int
    server_errors: int  # answers with a 5xx status
    workers_killed: int  # killed, timed out or restarted workers
    bytes: int
    longest_line: int
    examples: list[str] = field(default_factory=list)


class ProductionServer:
    """`gunicorn app:server` as documented, on a free loopback port; use as a context manager."""

    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int = 2, start_timeout_s: float = 120.0,
                 sample_every_s: float = 0.25) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "gunicorn.log"
        self.env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "RECOMMENDER_FEEDBACK_DB": str(self.workdir / "feedback.sqlite3"),
            "RECOMMENDER_THUMBNAIL_DIR": str(self.workdir / "thumbnails"),
            "RECOMMENDER_UPLOAD_DIR": str(self.workdir / "uploads"),
            "WEB_CONCURRENCY": str(workers),
            **env,
        }
        self.start_timeout_s = start_timeout_s
        self.sample_every_s = sample_every_s
        self.peak_worker_rss = 0
        self.worker_pids: set[int] = set()
        self._proc: subprocess.Popen | None = None
        self._log_end: int | None = None  # the log's length when shutting down began
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> "ProductionServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}"]
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=log)
        try:
            self._wait_until_ready()
        except BaseException:
            self._shut_down()
            raise
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._shut_down()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.base}/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {self.start_timeout_s:.0f} s: {self.log_tail()}")

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self._proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def worker_rss(self) -> int:
        """The largest resident memory of any worker right now, in bytes."""
        most = 0
        for worker in self.workers():
            try:
                most = max(most, worker.memory_info().rss)
                self.worker_pids.add(worker.pid)
            except psutil.NoSuchProcess:
                pass
        return most

    def _sample(self) -> None:
        while not self._stop.wait(self.sample_every_s):
            self.peak_worker_rss = max(self.peak_worker_rss, self.worker_rss())

    def _shut_down(self) -> None:
        if self._log_end is None:
            self._log_end = len(self.log_text())  # what the shutdown itself logs is not the run's
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log_text().strip().splitlines()[-lines:])

    def findings(self) -> LogFindings:
        """Tracebacks, 5xx answers and killed workers in the log of the run (its shutdown left out)."""
        text = self.log_text()[: self._log_end]
        lines = text.splitlines()
        bad = [line for line in lines if "Traceback" in line or _STATUS_500.search(line) or _KILLED.search(line)]
        return LogFindings(
            tracebacks=sum("Traceback (most recent call last)" in line for line in lines),
            server_errors=sum(bool(_STATUS_500.search(line)) for line in lines),
            workers_killed=sum(bool(_KILLED.search(line)) for line in lines),
            bytes=len(text.encode()),
            longest_line=max((len(line) for line in lines), default=0),
            examples=[line[:200] for line in bad[:5]],
        )
