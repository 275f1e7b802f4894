"""Corrupt index folders are refused with one sentence and exit status 2 by every way in: the CLI,
`python app.py`, and gunicorn's start (its preflight), never with a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender.cli import main as cli_main
from recommender.model_spec import ModelSpec
from recommender.settings import PROJECT_ROOT, Settings
from recommender.ui import preflight
from tests.test_head import random_head
from tests.ui_fakes import build_tiny_index


def _manifest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def corrupt(index: Path) -> None:
        manifest = json.loads((index / "manifest.json").read_text())
        edit(manifest)
        (index / "manifest.json").write_text(json.dumps(manifest))
    return corrupt


def _vectors(edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def corrupt(index: Path) -> None:
        np.save(index / "vectors.npy", edit(np.load(index / "vectors.npy")))
    return corrupt


def _set(array: np.ndarray, value: float) -> np.ndarray:
    array[2, 3] = value
    return array


CORRUPTIONS = {
    "empty vectors.npy": (lambda index: (index / "vectors.npy").write_bytes(b""), "vectors.npy cannot be read"),
    "truncated vectors.npy": (lambda index: (index / "vectors.npy").write_bytes((index / "vectors.npy").read_bytes()[:150]),
                              "vectors.npy cannot be read"),
    "vectors of another dtype": (_vectors(lambda a: a.astype(np.float64)), "not float32"),
    "a NaN row": (_vectors(lambda a: _set(a, np.nan)), "NaN or infinite"),
    "an infinite row": (_vectors(lambda a: _set(a, -np.inf)), "NaN or infinite"),
    "backbone null": (_manifest(lambda m: m["model"].update(backbone=None)), "backbone and weights must be"),
    "model a list": (_manifest(lambda m: m.update(model=[1])), "the model is not an object"),
    "dim a text": (_manifest(lambda m: m.update(dim="8")), "its dim is '8'"),
    "count too high": (_manifest(lambda m: m.update(count=m["count"] + 1)), "manifest says 6 vectors"),
    "skipped entries not objects": (_manifest(lambda m: m.update(skipped=["x"])), "manifest of index"),
    "build_seconds null": (_manifest(lambda m: m.update(build_seconds=None)), "manifest of index"),
    "manifest not JSON": (lambda index: (index / "manifest.json").write_text("{not json"), "manifest of index"),
    "products not objects": (lambda index: (index / "products.jsonl").write_text("[1]\n" * 5),
                             "products.jsonl cannot be read"),
    "ids not a list": (lambda index: (index / "ids.json").write_text('{"a": 1}'), "ids.json"),
    "empty appearance.npz": (lambda index: (index / "appearance.npz").write_bytes(b""), "appearance.npz cannot be read"),
    "computed not a list": (_manifest(lambda m: m.update(computed="colour")), "computed attributes"),
    "holdout without fraction": (_manifest(lambda m: m.update(holdout={"seed": 1})), "its holdout"),
}


@pytest.fixture(scope="module")
def good_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_index(tmp_path_factory.mktemp("good"))


@pytest.fixture(params=list(CORRUPTIONS))
def corrupt(request: pytest.FixtureRequest, good_index: Path, tmp_path: Path) -> tuple[Path, str]:
    index = tmp_path / "index"
    shutil.copytree(good_index, index)
    damage, sentence = CORRUPTIONS[request.param]
    damage(index)
    return index, sentence


def _one_sentence(stderr: str, sentence: str) -> None:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and sentence in lines[0], stderr
    assert lines[0].endswith(".") and "Traceback" not in stderr


def test_the_cli_refuses_it_in_one_sentence(corrupt: tuple[Path, str], capsys: pytest.CaptureFixture) -> None:
    index, sentence = corrupt
    assert cli_main(["query", "--index", str(index), "--id", "1001"]) == 2
    _one_sentence(capsys.readouterr().err, sentence)


def test_the_app_refuses_to_start_in_one_sentence(corrupt: tuple[Path, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import app

    index, sentence = corrupt
    monkeypatch.setenv("RECOMMENDER_FEEDBACK_DB", str(tmp_path / "votes.sqlite3"))
    assert app.main(["--index", str(index)]) == 2
    _one_sentence(capsys.readouterr().err, sentence)


@pytest.mark.parametrize("case", ["empty vectors.npy", "backbone null", "a NaN row"])
def test_gunicorn_refuses_to_start_in_one_sentence(case: str, good_index: Path, tmp_path: Path) -> None:
    """`gunicorn app:server` with gunicorn.conf.py: the master exits 2 with the sentence before any worker starts."""
    index = tmp_path / "index"
    shutil.copytree(good_index, index)
    damage, sentence = CORRUPTIONS[case]
    damage(index)
    _gunicorn_refuses(index, tmp_path, sentence)


def _trained(index: Path) -> Path:
    """Make the tiny index look like `train`'s output: a head (whose embedding its vectors are) and hubness.npy."""
    manifest = json.loads((index / "manifest.json").read_text())
    head = replace(random_head(input_dim=8, colour_dim=0, dim=8), backbone=ModelSpec.from_json(manifest["model"]),
                   catalog_fingerprint=manifest["catalog"]["fingerprint"])
    (index / "head.npz").write_bytes(head.to_bytes())
    np.save(index / "hubness.npy", np.linspace(0.1, 0.5, manifest["count"]).astype(np.float32))
    manifest["model"]["head"] = head.id
    (index / "manifest.json").write_text(json.dumps(manifest))
    return index


def _truncate(name: str) -> Callable[[Path], None]:
    def corrupt(index: Path) -> None:
        data = (index / name).read_bytes()
        (index / name).write_bytes(data[: len(data) // 2])
    return corrupt


TRAINED_CORRUPTIONS = {  # the files a worker reads after start-up: the start-up check reads them too
    "truncated head.npz": (_truncate("head.npz"), "head"),
    "truncated hubness.npy": (_truncate("hubness.npy"), "hubness.npy cannot be read"),
    "truncated appearance.npz": (_truncate("appearance.npz"), "appearance.npz cannot be read"),
}


@pytest.fixture(scope="module")
def trained_index(good_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("trained") / "index"
    shutil.copytree(good_index, index)
    return _trained(index)


def test_a_sound_trained_index_passes_the_start_up_check(trained_index: Path, tmp_path: Path) -> None:
    preflight.check(Settings(index=trained_index, feedback_db=tmp_path / "votes.sqlite3"))


@pytest.mark.parametrize("case", list(TRAINED_CORRUPTIONS))
def test_every_index_file_is_checked_at_start_up(case: str, trained_index: Path, tmp_path: Path) -> None:
    """A truncated head, hubness or appearance file stops gunicorn before any worker starts: status 2, one
    sentence (a truncated head.npz or hubness.npy used to pass, and every worker then failed)."""
    index = tmp_path / "index"
    shutil.copytree(trained_index, index)
    damage, sentence = TRAINED_CORRUPTIONS[case]
    damage(index)
    _gunicorn_refuses(index, tmp_path, sentence)


def _gunicorn_refuses(index: Path, tmp_path: Path, sentence: str) -> None:
    """`gunicorn app:server` over `index` exits 2 with one line holding `sentence`, and starts no worker."""
    env = {**os.environ, "RECOMMENDER_INDEX": str(index), "RECOMMENDER_FEEDBACK_DB": str(tmp_path / "votes.sqlite3"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and sentence in errors[0] and "Traceback" not in done.stderr, done.stderr
    assert "Booting worker" not in done.stderr
