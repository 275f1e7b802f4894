"""The suite fails when its tests change the work tree (tests/worktree_guard.py), run on a throwaway git checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

CASES = {
    "clean": "def test_x(tmp_path):\n    (tmp_path / 'out.txt').write_text('fine')\n",
    "new file": "def test_x():\n    open('leak.txt', 'w').write('x')\n",
    "tracked file": "def test_x():\n    open('README.md', 'a').write('more')\n",
    "into an ignored folder": "def test_x():\n    open('embeddings/.uploads/photo.jpg', 'w').write('x')\n",
}


def _run(checkout: Path, test: str) -> subprocess.CompletedProcess:
    (checkout / "test_case.py").write_text(test)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.worktree_guard",
                           "test_case.py"], cwd=checkout, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", CASES)
def test_a_run_that_changes_the_work_tree_fails(tmp_path: Path, case: str) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "embeddings" / ".uploads").mkdir(parents=True)
    (checkout / "embeddings" / ".uploads" / "old.jpg").write_text("kept from a demo run")
    (checkout / ".gitignore").write_text("/embeddings/*\n__pycache__/\n")
    (checkout / "README.md").write_text("readme\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=checkout, check=True)
    subprocess.run([*git, "add", ".gitignore", "README.md"], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=checkout, check=True)
    proc = _run(checkout, CASES[case])
    if case == "clean":
        assert proc.returncode == 0, proc.stdout + proc.stderr
    else:
        assert proc.returncode == 1 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
        assert "the tests changed the work tree" in proc.stdout
