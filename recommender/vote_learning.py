"""From the vote log to the learnt preferences and the vote memory of an index (`python -m recommender learn`).

A vote's query is a catalogue product ("more like this") or a shopper's photo kept by its SHA-256. Its
kind is what the ranking would predict for it (the trained head's category), worked out again here from
the product's vector or the kept photo's vector; a photo no longer kept still teaches its product
preference, not its kind pair.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.memory_switch import decide
from recommender.preferences import FILE_NAME, Preferences, VoteRecord, fit, index_kinds, kind_lookup
from recommender.ranking import Ranker, RankingSettings
from recommender.uploads import UploadStore
from recommender.vote_memory import MEMORY_FILE, QueryVote, VoteMemory, remember

__all__ = ["learn", "learn_votes", "query_votes", "query_kinds"]


def query_votes(index: Index, rows: Sequence[tuple[str, str, str, str, int, int]],
                uploads: UploadStore | None) -> tuple[list[QueryVote], dict[str, np.ndarray]]:
    """The standing votes (`FeedbackStore.standing_votes`), each with its query named "kind:ref", and the vectors
    of the queries still known (a product removed or a photo pruned has none)."""
    vectors = {}
    for query_kind, ref in sorted({(kind, ref) for _, kind, ref, *_ in rows}):
        vector = _query_vector(index, query_kind, ref, uploads)
        if vector is not None:
            vectors[f"{query_kind}:{ref}"] = vector
    votes = [QueryVote(session, f"{query_kind}:{ref}", item, int(vote), int(order))
             for session, query_kind, ref, item, vote, order in rows]
    return votes, vectors


def query_kinds(index: Index, vectors: dict[str, np.ndarray]) -> dict[str, str | None]:
    """Each query's predicted kind, as the ranking predicts it (None: no head's category)."""
    kinds, _ = index_kinds(index)
    keys = list(vectors)
    codes = Ranker(index).query_kinds(np.stack([vectors[k] for k in keys])) if keys else []
    return {key: kinds[c] if c >= 0 else None for key, c in zip(keys, codes)}


def learn_votes(index: Index, votes: Sequence[QueryVote], vectors: dict[str, np.ndarray],
                settings: RankingSettings | None = None) -> tuple[Preferences, VoteMemory]:
    """The preferences and the vote memory of an index's catalogue, the memory's switch decided by held-out
    sessions (recommender.memory_switch): what `learn` writes and the simulated shoppers are scored with."""
    catalog = index.manifest.catalog.identity
    kind = query_kinds(index, vectors)
    kind_of = kind_lookup(index)

    def fit_from(keep: Callable[[str], bool]) -> tuple[Preferences, VoteMemory]:
        chosen = [v for v in votes if keep(v.session)]
        records = [VoteRecord(v.session, kind.get(v.query), v.item, v.vote, v.order) for v in chosen]
        memory = remember(chosen, vectors, catalog, index.dim, kind_of, index.manifest.model)
        return fit(records, catalog, kind_of), memory

    preferences, memory = fit_from(lambda _: True)
    switch = decide(index, memory, fit_from, lambda row: kind_of(index.ids[row]), settings)
    return preferences, replace(memory, switch=switch)


def _query_vector(index: Index, query_kind: str, ref: str, uploads: UploadStore | None) -> np.ndarray | None:
    """The query's vector in the index's space, or None when it is gone (a product removed, a photo pruned)."""
    if query_kind == "item":
        return np.asarray(index.vector(ref), dtype=np.float32) if ref in index else None
    if uploads is None:
        return None
    try:
        kept = np.asarray(uploads.vector(ref), dtype=np.float32).reshape(-1)  # the vector, then any colours
    except RecommenderError:  # a photo pruned, unreadable or never kept (UploadGone): it teaches no kind pair
        return None
    return kept[: index.dim] if len(kept) >= index.dim else None  # shorter: kept by a smaller model's build


def learn(index_dir: Path, store: FeedbackStore, uploads: UploadStore | None,
          say: Callable[[str], None] = print) -> Preferences:
    """Fit the preferences of an index's catalogue from its standing votes and write them beside the index."""
    index = Index.load(index_dir)
    catalog = index.manifest.catalog.identity
    rows = store.standing_votes(catalog)
    say(f"learn: {len(rows):,} standing votes on {catalog} ...")
    preferences, memory = learn_votes(index, *query_votes(index, rows, uploads))
    run = uuid.uuid4().hex  # one mark in both files: a reader between the two writes pairs neither run's halves
    preferences, memory = replace(preferences, learnt=run), replace(memory, learnt=run)
    preferences.save(Path(index_dir) / FILE_NAME)
    memory.save(Path(index_dir) / MEMORY_FILE)
    say(f"learn: {preferences.votes:,} votes from {preferences.sessions:,} sessions -> {len(preferences.products):,} "
        f"product and {len(preferences.kinds):,} kind preferences; wrote {Path(index_dir) / FILE_NAME}")
    say(f"learn: vote memory of {memory.summary()}; wrote {Path(index_dir) / MEMORY_FILE}")
    return preferences
