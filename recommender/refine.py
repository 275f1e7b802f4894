"""Refine a search with the shopper's thumbs: move the query towards what they liked (Rocchio).

The classic relevance-feedback update of information retrieval: the new query is the old one plus
the mean of the liked results' vectors, minus a smaller share of the disliked ones'. It needs no
training and works in any vector space the index ranks in.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rocchio", "ALPHA", "BETA", "GAMMA"]

ALPHA, BETA, GAMMA = 1.0, 0.75, 0.15  # the textbook weights (Manning et al., Introduction to IR, 9.1.1)


def rocchio(query: np.ndarray, liked: np.ndarray, disliked: np.ndarray, *, alpha: float = ALPHA,
            beta: float = BETA, gamma: float = GAMMA) -> np.ndarray:
    """alpha q + beta mean(liked) - gamma mean(disliked), for 2-D (n, dim) liked/disliked arrays (n may be 0)."""
    moved = alpha * np.asarray(query, dtype=np.float64)
    if len(liked):
        moved += beta * np.asarray(liked, dtype=np.float64).mean(axis=0)
    if len(disliked):
        moved -= gamma * np.asarray(disliked, dtype=np.float64).mean(axis=0)
    return moved.astype(np.float32)
