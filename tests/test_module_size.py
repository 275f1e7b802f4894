"""No module of the product, the tooling or the scripts is over 400 lines: a longer one holds two ideas.

Tests are left out (a test file is a list of cases, not a module others read to understand one idea).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MOST_LINES = 400
CHECKED = ("recommender", "bench", "scripts")


def modules() -> list[Path]:
    found = [path for folder in CHECKED for path in (REPO / folder).rglob("*.py")]
    return sorted(found + list(REPO.glob("*.py")))


def test_the_check_reads_the_product_the_tooling_the_scripts_and_app_py() -> None:
    names = {path.relative_to(REPO).as_posix() for path in modules()}
    assert {"app.py", "gunicorn.conf.py", "recommender/engine.py", "bench/run.py", "scripts/loadtest.py"} <= names


def test_no_module_is_over_400_lines() -> None:
    lengths = {path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in modules()}
    assert {name: lines for name, lines in lengths.items() if lines > MOST_LINES} == {}
