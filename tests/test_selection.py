"""Selection: the rows a search may return, resolved once and handed down as one value."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.index import Index
from recommender.selection import Selection
from tests.test_index import write_index


def test_an_empty_selection_allows_every_row() -> None:
    everything = Selection.everything(10)
    assert everything.rows is None and everything.size == 10 and everything.share == 1.0
    assert everything.positions().tolist() == list(range(10)) and everything.mask.all()
    assert not everything.exact and Selection.everything(10, exact=True).exact


def test_mask_bitmap_and_narrowing_follow_the_rows() -> None:
    selection = Selection(20, np.array([0, 3, 9, 17]), exact=True)
    assert selection.size == 4 and selection.share == pytest.approx(0.2)
    assert np.flatnonzero(selection.mask).tolist() == [0, 3, 9, 17]
    bits = np.unpackbits(selection.bitmap, bitorder="little")[:20]  # FAISS's IDSelectorBitmap reads bit i of row i
    assert np.flatnonzero(bits).tolist() == [0, 3, 9, 17] and len(selection.bitmap) == 3
    narrowed = selection.narrowed(np.array([3, 4, 17]))
    assert narrowed.rows.tolist() == [3, 17] and narrowed.exact and narrowed.total == 20
    assert Selection.everything(20).narrowed(np.array([5, 6])).rows.tolist() == [5, 6]


def test_index_select_resolves_filters_exclusions_and_within_once(tmp_path, monkeypatch) -> None:
    vectors = np.random.default_rng(0).standard_normal((60, 24)).astype(np.float32)
    records = write_index(tmp_path / "idx", vectors)
    index = Index.load(tmp_path / "idx")
    women = {i for i, r in enumerate(records) if r["attributes"].get("gender") == "Women"}
    within = np.arange(0, 60, 2)
    selection = index.select({"gender": ["Women"]}, exclude=[index.ids[0], index.ids[2]], within=within)
    assert selection.rows.tolist() == sorted((women & set(within.tolist())) - {0, 2})
    assert index.select().rows is None and index.select(exact=True).exact

    calls = []
    real = Index.allowed
    monkeypatch.setattr(Index, "allowed", lambda self, *a, **kw: calls.append(1) or real(self, *a, **kw))
    _, positions = index.search(vectors[:3], 5, selection)
    assert not calls  # the search uses the resolved rows; it does not filter again
    assert set(positions[positions >= 0].tolist()) <= set(selection.rows.tolist())
