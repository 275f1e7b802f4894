"""A pytest plugin that fails the run when the tests changed the work tree they run in.

Tests write into their temporary folders only. What counts as a change, by `git status`: a tracked
file modified, added or deleted, an untracked file git does not ignore, and an ignored path that was
not there before or with something newer inside (a test writing `embeddings/.uploads/` or a feedback
database into the checkout), except Python's own `__pycache__` folders and `.venv`. Outside a git
checkout (or without git) it does nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

_KEY = pytest.StashKey[frozenset[str]]()
BYTECODE = ("__pycache__/", ".pyc")


def _newest(path: Path) -> int:
    """The latest modification time (ns) of a path or anything below it (links not followed)."""
    newest = path.lstat().st_mtime_ns
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in dirs + files:
                newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime_ns)
    return newest


def _status(root: Path) -> frozenset[str] | None:
    """The work tree's entries as `git status --porcelain --ignored` lists them, each with the time of the
    newest thing in it (None: not a git checkout)."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=root, capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    entries = set()
    for line in proc.stdout.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if line.endswith(BYTECODE) or path.rstrip("/") == ".venv":
            continue
        if (root / path).exists():  # a file changed again, or something new inside a folder
            line += f"  (modified: {_newest(root / path)})"
        entries.add(line)
    return frozenset(entries)


def pytest_sessionstart(session: pytest.Session) -> None:
    before = _status(session.config.rootpath)
    if before is not None:
        session.stash[_KEY] = before


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.stash.get(_KEY, None)
    after = None if before is None else _status(session.config.rootpath)
    if before is None or after is None or after == before:
        return
    changed = sorted(after - before) + [f"gone: {line}" for line in sorted(before - after)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "the tests changed the work tree (write into tmp_path instead):\n  " + "\n  ".join(changed[:20])
    if reporter is not None:
        reporter.write_sep("=", "work tree changed", red=True)
        reporter.write_line(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
