"""The map's layout: made by its command (and after build/train), stored atomically, refused with a sentence
when missing, stale or of another format; the Map page's sentences for those and for a catalogue without labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from recommender.catalogue_map import MAP_FILE, MAP_INFO, compute_layout, read_map
from recommender.cli import main
from recommender.commands.map import make_map
from recommender.errors import RecommenderError
from recommender.index_files import read_index
from tests.audit_fakes import CATEGORIES, PER_CATEGORY, write_audit_index


def _vectors(index: Path) -> np.ndarray:
    return np.load(index / "vectors.npy")


def test_the_command_writes_a_layout_that_keeps_clusters_apart(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    index = write_audit_index(tmp_path)  # no head: the map needs none
    assert main(["map", "--index", str(index)]) == 0
    out, err = capsys.readouterr()
    assert "map: t-SNE of 122 products" in err and "map of 122 products written" in out
    info = json.loads((index / MAP_INFO).read_text())
    assert info["version"] == 1 and info["count"] == 122 and info["seconds"] >= 0
    xy = read_map(index, _vectors(index)).xy
    assert xy.shape == (122, 2) and np.abs(xy).max() <= 1.0001
    # each category's products lie closer to their own centre than to the other categories' centres
    centres = [xy[c * PER_CATEGORY:(c + 1) * PER_CATEGORY].mean(axis=0) for c in range(len(CATEGORIES))]
    inside = np.mean([np.linalg.norm(xy[c * PER_CATEGORY:(c + 1) * PER_CATEGORY] - centres[c], axis=1).mean()
                      for c in range(len(CATEGORIES))])
    between = np.mean([np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:]])
    assert between > 2 * inside
    assert not list(index.glob(".*.tmp"))  # written atomically: no temp file left


def test_an_index_built_before_maps_gets_a_sentence_naming_the_command(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path)
    with pytest.raises(RecommenderError, match=r"has no map yet .* python -m recommender map --index "):
        read_map(index, _vectors(index))


def test_a_stale_or_older_or_broken_map_is_refused(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path)
    assert main(["map", "--index", str(index)]) == 0
    other = _vectors(index)[::-1].copy()
    with pytest.raises(RecommenderError, match="earlier build of this index; make it again with python -m"):
        read_map(index, other)
    info = json.loads((index / MAP_INFO).read_text())
    (index / MAP_INFO).write_text(json.dumps({**info, "version": 0}))
    with pytest.raises(RecommenderError, match="older format"):
        read_map(index, _vectors(index))
    (index / MAP_INFO).write_text(json.dumps(info))
    (index / MAP_FILE).write_bytes(b"not numpy")
    with pytest.raises(RecommenderError, match="cannot be read"):
        read_map(index, _vectors(index))


def test_build_and_train_make_the_map_unless_told_not_to(tmp_path: Path) -> None:
    index = write_audit_index(tmp_path)
    make_map(argparse.Namespace(no_map=True, no_progress=True), index)
    assert not (index / MAP_FILE).exists()
    make_map(argparse.Namespace(no_map=False, no_progress=True), index)
    assert read_map(index, _vectors(index)).xy.shape == (122, 2)


def test_tiny_catalogues_get_a_layout(tmp_path: Path) -> None:
    assert compute_layout(np.eye(3, dtype=np.float32)).shape == (3, 2)
    assert compute_layout(np.random.default_rng(0).standard_normal((6, 8))).shape == (6, 2)


def test_the_map_command_on_a_missing_index_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["map", "--index", str(tmp_path / "none")]) == 2
    assert "There is no index at" in capsys.readouterr().err


def test_an_index_without_a_head_is_audited_and_mapped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    index = write_audit_index(tmp_path)
    assert read_index(index).manifest.model.head is None
    assert main(["audit", "--index", str(index)]) == 0 and main(["map", "--index", str(index)]) == 0
    assert "suspect labels" in capsys.readouterr().out
