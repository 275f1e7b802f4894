"""The vote database changed under a running server: truncated, replaced, removed or read-only.

Each call then fails with one sentence (`ServerFault`, whose words are for the log; the page shows a
plain one), and no process dies: with SQLite's WAL index, a memory-mapped `-shm` file truncated under
a process killed it with SIGBUS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from recommender.errors import ServerFault
from recommender.feedback import FeedbackStore
from recommender.settings import PROJECT_ROOT

# A process using the store as a worker does: what was shown, and the feedback page's summary, for `seconds`.
WORKER = """
import sys, time
from recommender.errors import RecommenderError, ServerFault
from recommender.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
faults, deadline, n = set(), time.monotonic() + float(sys.argv[2]), 0
while time.monotonic() < deadline:
    try:
        store.record_shown("s" * 32, "catalogue", "query", [(f"item{n % 50}", 1 + n % 10, 0.5)])
        store.summary("catalogue")
    except ServerFault as exc:
        faults.add(type(exc).__name__)
    except RecommenderError as exc:
        faults.add(str(exc))
    n += 1
print(sorted(faults))
"""


def _workers(db: Path, seconds: float, n: int = 3, user: list[str] | None = None) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return [subprocess.Popen([*(user or []), sys.executable, "-c", WORKER, str(db), str(seconds)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]


def _finished(workers: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    """Each process's exit status, the faults it met, and the end of its standard error."""
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        outcomes.append((worker.returncode, out.strip(), err[-500:]))
    return outcomes


def test_files_truncated_and_removed_under_running_processes_kill_none(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    FeedbackStore(db)
    workers = _workers(db, 4.0)
    time.sleep(1.5)
    for path in tmp_path.glob("feedback.sqlite3*"):  # the database and whatever SQLite keeps beside it
        path.write_bytes(b"")
    time.sleep(1.0)
    for path in tmp_path.glob("feedback.sqlite3*"):
        path.unlink(missing_ok=True)  # SQLite may remove its journal between the glob and here
    outcomes = _finished(workers)
    assert all(code == 0 for code, _, _ in outcomes), outcomes  # -7 was SIGBUS
    assert all(faults in ("[]", "['ServerFault']") for _, faults, _ in outcomes), outcomes
    assert not db.exists()  # a vanished database is not made again, empty, by the next call


def test_a_vanished_database_is_a_server_fault_every_call(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    store.record_shown("s" * 32, "catalogue", "query", [("item", 1, 0.5)])
    db.unlink()
    with pytest.raises(ServerFault, match=r"^The feedback database feedback.sqlite3 cannot be used: .*\.$"):
        store.record_shown("s" * 32, "catalogue", "query", [("item", 1, 0.5)])
    with pytest.raises(ServerFault):
        store.summary("catalogue")
    assert not db.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file ownership")
def test_a_read_only_database_is_a_server_fault_and_stores_nothing() -> None:
    """Another user's file (root's file for `nobody`, when the tests run as root; else a file made read-only)."""
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if as_root and not setpriv:
        pytest.skip("running as root without setpriv: no way to open the file as another user")
    folder = Path(tempfile.mkdtemp(prefix="lookalike-ro-"))
    try:
        folder.chmod(0o755)
        db = folder / "feedback.sqlite3"
        store = FeedbackStore(db)
        store.record_shown("t" * 32, "catalogue", "query", [("item", 1, 0.5)])
        before = store.summary("catalogue")
        db.chmod(0o444)
        user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if as_root else None
        if user and subprocess.run([*user, sys.executable, "-c", "import recommender.feedback"], capture_output=True,
                                   env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}).returncode != 0:
            pytest.skip(f"user nobody cannot read the project or its .venv at {PROJECT_ROOT} (a private checkout)")
        outcomes = _finished(_workers(db, 1.0, n=2, user=user))
        assert [(code, faults) for code, faults, _ in outcomes] == [(0, "['ServerFault']")] * 2, outcomes
        assert store.summary("catalogue") == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)
