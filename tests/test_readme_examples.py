"""Every `curl` line of the README, run with curl against a served index: the demo's lines against the demo
catalogue, the Kaggle lines (under a comment naming the Kaggle index) against a Kaggle-layout catalogue."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from recommender.backbones import load_extractor
from recommender.build import build_index
from recommender.catalog import load_catalog
from recommender.engine import Recommender
from recommender.model_spec import ModelSpec
from recommender.settings import Settings
from recommender.ui import create_app
from tests.conftest import SHARED_FASHION, require
from tests.ui_fakes import served

REPO = Path(__file__).resolve().parent.parent
README_BASE = "http://127.0.0.1:8050"
KAGGLE_ROWS = 300  # products of the Kaggle small catalogue served for its examples (its first rows)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl_examples(readme: str) -> dict[str, list[str]]:
    """The README's curl commands by the catalogue they are for ("demo" or "kaggle"), continuation lines joined.

    Inside a bash block, a comment naming the Kaggle index switches to Kaggle lines; the others are the demo's.
    """
    examples: dict[str, list[str]] = {"demo": [], "kaggle": []}
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        section = "demo"
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("#"):
                section = "kaggle" if "kaggle" in line.lower() else "demo"
            elif line.startswith("curl "):
                examples[section].append(line)
    return examples


def _run(command: str, base: str) -> tuple[int, dict]:
    """The example as written (its URL pointed at `base`), from the repository's root; (status, JSON body)."""
    args = shlex.split(command.replace(README_BASE, base))
    proc = subprocess.run([args[0], "-sS", "-w", "\n%{http_code}", *args[1:]], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), json.loads(body)


def _serve_and_run(catalog: Path, tmp_path: Path, model: Path, commands: list[str]) -> None:
    index = tmp_path / "index"
    build_index(load_catalog(catalog), index, load_extractor(ModelSpec.parse(str(model))), progress=False)
    settings = Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3", thumbnail_dir=tmp_path / "th",
                                 upload_dir=tmp_path / "uploads")
    with served(create_app(settings, engine=Recommender.open(index))) as base:
        for command in commands:
            status, answer = _run(command, base)
            assert status == 200, (command, answer)
            lists = [g["results"] for g in answer["garments"]] if "garments" in answer else [answer["results"]]
            assert all(lists) and not answer["notes"], (command, answer)  # every filter value exists
            for results in lists:  # a look (look=1): each garment's own list
                matches = [r["match"] for r in results]
                assert matches == sorted(matches, reverse=True), command


def test_the_readme_has_curl_examples_for_both_catalogues() -> None:
    examples = curl_examples((REPO / "README.md").read_text())
    assert len(examples["demo"]) >= 2 and len(examples["kaggle"]) >= 2
    assert curl_examples("```bash\n# the demo\ncurl -F a=b \\\n    URL\n# on the Kaggle index\ncurl URL2\n```") == {
        "demo": ["curl -F a=b      URL"], "kaggle": ["curl URL2"]}


def test_the_readme_curl_examples_run_against_the_demo(tmp_path: Path, tiny_tflite: dict) -> None:
    examples = curl_examples((REPO / "README.md").read_text())["demo"]
    _serve_and_run(Settings().demo_catalog, tmp_path, tiny_tflite["float"].path, examples)


def test_the_readme_kaggle_curl_examples_run_against_a_kaggle_catalogue(tmp_path: Path, tiny_tflite: dict) -> None:
    source = require(SHARED_FASHION)
    catalog = tmp_path / "kaggle"
    (catalog / "images").mkdir(parents=True)
    with open(source / "styles.csv", newline="") as rows, open(catalog / "styles.csv", "w") as out:
        lines = [line for _, line in zip(range(KAGGLE_ROWS + 1), rows)]
        out.writelines(lines)
    for row in csv.reader(lines[1:]):
        if (source / "images" / f"{row[0]}.jpg").exists():
            shutil.copy(source / "images" / f"{row[0]}.jpg", catalog / "images")
    examples = curl_examples((REPO / "README.md").read_text())["kaggle"]
    _serve_and_run(catalog, tmp_path, tiny_tflite["float"].path, examples)
