"""`recommender.settings` is the one reader of RECOMMENDER_* variables, and the README's table is its declaration."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recommender.ranking import RankingSettings
from recommender.settings import VARIABLES, Settings, markdown_table

REPO = Path(__file__).resolve().parents[1]
READER = REPO / "recommender" / "settings.py"


def _names_a_variable(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.startswith("RECOMMENDER_")
    if isinstance(node, ast.JoinedStr) and node.values:
        return _names_a_variable(node.values[0])
    return False


def environment_reads(source: str) -> list[int]:
    """Lines that look a RECOMMENDER_* variable up: `x.get("RECOMMENDER_…")`, `getenv(…)`, `x["RECOMMENDER_…"]`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and _names_a_variable(node.args[0]):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("get", "getenv", "pop"):
                lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _names_a_variable(node.slice):
            lines.append(node.lineno)
    return lines


def checked_files() -> list[Path]:
    files = [p for folder in ("recommender", "bench", "scripts") for p in (REPO / folder).rglob("*.py")]
    return sorted(files + list(REPO.glob("*.py")))


def test_the_check_sees_the_ways_a_variable_is_read() -> None:
    assert environment_reads('import os\nos.environ.get("RECOMMENDER_BIND", "x")\n') == [2]
    assert environment_reads('import os\nf = "X"\nos.environ.get(f"RECOMMENDER_RANKING_{f}")\n') == [3]
    assert environment_reads('import os\nos.getenv("RECOMMENDER_INDEX")\nos.environ["RECOMMENDER_INDEX"]\n') == [2, 3]
    assert environment_reads('env = {}\nenv["RECOMMENDER_FEEDBACK_DB"] = "a child process gets it"\n') == []


def test_no_module_but_settings_reads_a_recommender_variable() -> None:
    found = {p.relative_to(REPO).as_posix(): environment_reads(p.read_text(encoding="utf-8"))
             for p in checked_files() if p != READER}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_every_declared_variable_sets_a_field_and_has_a_meaning() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    ranking = {f.name for f in dataclasses.fields(RankingSettings)}
    for variable in VARIABLES:
        target = variable.field.removeprefix("ranking.")
        assert target in (ranking if variable.field.startswith("ranking.") else fields), variable.name
        assert variable.meaning and variable.default and variable.kind
    assert {v.field.removeprefix("ranking.") for v in VARIABLES if v.field.startswith("ranking.")} == ranking


def test_the_readme_table_is_the_declaration() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme
    for variable in VARIABLES:
        assert f"| `{variable.name}` |" in readme


def test_ranking_and_gunicorn_variables_come_through_settings() -> None:
    env = {"RECOMMENDER_RANKING_CATEGORY_FIRST": "off", "RECOMMENDER_RANKING_CANDIDATES": "50",
           "RECOMMENDER_BIND": "127.0.0.1:9", "RECOMMENDER_WORKER_MAX_MB": "512"}
    settings = Settings.from_env(env)
    assert dict(settings.ranking) == {"candidates": 50, "category_first": None}
    assert (settings.bind, settings.worker_max_mb) == ("127.0.0.1:9", 512)


@pytest.mark.parametrize("variable", ["RECOMMENDER_WORKER_MAX_MB", "RECOMMENDER_MAX_UPLOAD_MB"])
def test_gunicorn_stops_on_a_bad_value_with_one_sentence_and_status_2(variable: str) -> None:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, variable: "lots"}
    proc = subprocess.run([str(gunicorn), "--check-config"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {variable} must be a whole number of megabytes above 0, "
                                                f"not 'lots'." if variable.endswith("WORKER_MAX_MB") else
                                                f"error: {variable} must be a number of megabytes above 0, not 'lots'."]
    assert "Traceback" not in proc.stderr
