"""The scripts as a newcomer runs them: `python scripts/NAME.py` from the clone, no PYTHONPATH, and one sentence
(no traceback, no made-up score) when what they measure is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.name for p in (REPO / "scripts").glob("*.py"))


def _run(*args: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    """A script run with no PYTHONPATH and PYTHONSAFEPATH=1: nothing but the script itself puts the clone on the
    path (not the current folder, not the script's folder, not an inherited variable)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONSAFEPATH": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _one_sentence(done: subprocess.CompletedProcess) -> str:
    said = done.stderr.strip()
    assert done.returncode == 2 and "Traceback" not in said and "\n" not in said and said.endswith("."), said
    return said


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_answers_help(script: str) -> None:
    done = _run(f"scripts/{script}", "--help")
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]


def test_decode_cost_measures_in_a_child_that_finds_the_project(tmp_path: Path) -> None:
    """Its measuring child ran `python -c` and found the project only through the current folder."""
    done = _run(str(REPO / "scripts" / "decode_cost.py"), "--case", "upload-png-bomb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"outcome": "refused: The image has too many pixels' in done.stdout


def test_demo_check_says_which_photos_are_missing_instead_of_scoring_zero(tmp_path: Path) -> None:
    said = _one_sentence(_run("scripts/demo_check.py", "--photos", str(tmp_path / "absent"), "--no-age"))
    assert said.startswith(f"No shopper photos to check the kinds with: {tmp_path / 'absent'} does not exist")
    (tmp_path / "some" / "dress").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "some" / "dress" / "a.jpg")
    said = _one_sentence(_run("scripts/demo_check.py", "--photos", str(tmp_path / "some"), "--no-age"))
    assert "has no .jpg in pants, shoes," in said and "dress" not in said.split("(")[0] and "MISS" not in said


def test_query_time_needs_two_photos_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "photos" / "a.jpg")
    said = _one_sentence(_run("scripts/query_time.py", "--index", str(tmp_path / "index"), "--photos",
                              str(tmp_path / "photos")))
    assert said == f"{tmp_path / 'photos'} holds 1 .jpg photo: at least 2 are needed (the first loads the model, " \
                   "the others are timed)."
