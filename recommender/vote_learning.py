"""From the vote log to the learnt preferences of an index (`python -m recommender learn`).

A vote's query is a catalogue product ("more like this") or a shopper's photo kept by its SHA-256. Its
kind is what the ranking would predict for it (the trained head's category), worked out again here from
the product's vector or the kept photo's vector; a photo no longer kept still teaches its product
preference, not its kind pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.preferences import FILE_NAME, Preferences, VoteRecord, fit, index_kinds, kind_lookup
from recommender.ranking import Ranker
from recommender.uploads import UploadStore

__all__ = ["learn", "vote_records"]


def vote_records(index: Index, rows: Sequence[tuple[str, str, str, str, int, int]],
                 uploads: UploadStore | None) -> list[VoteRecord]:
    """The standing votes (`FeedbackStore.standing_votes`) as VoteRecords, each with its query's predicted kind."""
    kinds, _ = index_kinds(index)
    ranker = Ranker(index)
    refs = sorted({(kind, ref) for _, kind, ref, *_ in rows})
    vectors, known = [], []
    for query_kind, ref in refs:
        vector = _query_vector(index, query_kind, ref, uploads)
        if vector is not None:
            vectors.append(vector)
            known.append((query_kind, ref))
    codes = ranker.query_kinds(np.stack(vectors)) if vectors else np.empty(0, dtype=np.int64)
    kind_of = {key: kinds[c] if c >= 0 else None for key, c in zip(known, codes)}
    return [VoteRecord(session, kind_of.get((query_kind, ref)), item, int(vote), int(order))
            for session, query_kind, ref, item, vote, order in rows]


def _query_vector(index: Index, query_kind: str, ref: str, uploads: UploadStore | None) -> np.ndarray | None:
    """The query's vector in the index's space, or None when it is gone (a product removed, a photo pruned)."""
    if query_kind == "item":
        return np.asarray(index.vector(ref), dtype=np.float32) if ref in index else None
    if uploads is None:
        return None
    try:
        return np.asarray(uploads.vector(ref), dtype=np.float32)[: index.dim]
    except RecommenderError:  # a photo pruned, unreadable or never kept (UploadGone): it teaches no kind pair
        return None


def learn(index_dir: Path, store: FeedbackStore, uploads: UploadStore | None,
          say: Callable[[str], None] = print) -> Preferences:
    """Fit the preferences of an index's catalogue from its standing votes and write them beside the index."""
    index = Index.load(index_dir)
    catalog = index.manifest.catalog.identity
    rows = store.standing_votes(catalog)
    say(f"learn: {len(rows):,} standing votes on {catalog} ...")
    preferences = fit(vote_records(index, rows, uploads), catalog, kind_lookup(index))
    preferences.save(Path(index_dir) / FILE_NAME)
    say(f"learn: {preferences.votes:,} votes from {preferences.sessions:,} sessions -> {len(preferences.products):,} "
        f"product and {len(preferences.kinds):,} kind preferences; wrote {Path(index_dir) / FILE_NAME}")
    return preferences
