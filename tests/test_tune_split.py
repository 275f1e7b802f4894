"""scripts/tune_split.py keeps each chosen query whole: vector, colours, labels, id and own row stay aligned."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from recommender.evaluation.run import Queries

REPO = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("tune_split", REPO / "scripts" / "tune_split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_subset_keeps_the_chosen_rows_aligned() -> None:
    queries = Queries(np.arange(8, dtype=np.float32).reshape(4, 2), np.arange(4, dtype=np.float32)[:, None] * 10,
                      [{"kind": k} for k in "abcd"], ["1", "2", "3", "4"], None, np.array([5, 6, 7, 8]))
    kept = _script().subset(queries, np.array([False, True, False, True]), "tune half")
    assert kept.vectors.tolist() == [[2, 3], [6, 7]]
    assert kept.colours.ravel().tolist() == [10, 30]
    assert [r["kind"] for r in kept.records] == ["b", "d"] and kept.ids == ["2", "4"]
    assert kept.own.tolist() == [6, 8] and kept.selection == "tune half"


def test_subset_of_photos_without_colours_or_own_rows() -> None:
    queries = Queries(np.eye(3, dtype=np.float32), None, [{}, {}, {}], ["a", "b", "c"], "photos/")
    kept = _script().subset(queries, np.array([True, False, True]), "held-out photos")
    assert kept.colours is None and kept.own is None and kept.ids == ["a", "c"]
    assert kept.source == "photos/"
