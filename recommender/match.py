"""The figures a shopper reads beside a result: its match, and how alike the pictures look.

A figure shown next to a ranked list is read as the reason for the order, so the match is taken
from the ranker's own score and never rises down the list: the page, the API and the CLI all show
it. How alike the two pictures look (from the Euclidean distance alone) goes in the card's title:
the order also weighs the category, colour and gender, so that figure may go up and down.

Both are on a scale that does not depend on the query: a refined query (Rocchio) is a unit vector
like any other (`Recommender.split`), so its results read on the same scale as the search before it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE", "typical_distance", "alike", "fit", "never_rising"]

SAMPLE = 256  # vectors drawn to learn what a typical distance between two products looks like


def typical_distance(vectors: np.ndarray) -> float | None:
    """Median distance between random pairs of catalogue vectors (None below two products).

    It turns a raw Euclidean distance, whose scale differs per backbone, into a figure a shopper
    can read (see `alike`).
    """
    if len(vectors) < 2:
        return None
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(vectors), size=min(SAMPLE, len(vectors)), replace=False))
    sample = np.asarray(vectors[rows], dtype=np.float64)
    norms = (sample**2).sum(axis=1)
    squared = norms[:, None] + norms[None, :] - 2.0 * sample @ sample.T
    pairs = np.sqrt(np.maximum(squared[np.triu_indices(len(sample), k=1)], 0.0))
    return float(np.median(pairs)) or None


def alike(distance: np.ndarray | float, typical: float | None) -> np.ndarray | float | None:
    """0..1: 1 for an identical vector, 0.5 at the typical distance between two products.

    1 / (1 + (d / typical)^2) keeps the near neighbours of a catalogue product apart (a percentile
    would call them all 100%) and says honestly when a photo matches nothing well.
    """
    if typical is None:
        return None
    return 1.0 / (1.0 + (np.asarray(distance, dtype=np.float64) / typical) ** 2)


def fit(points: np.ndarray, best: float) -> np.ndarray:
    """A re-ranking score as a share (0..1) of the most any product can score for it."""
    return np.clip(np.asarray(points, dtype=np.float64) / best, 0.0, 1.0)


def never_rising(values: np.ndarray) -> np.ndarray:
    """Per row (in ranked order), each value capped by every one before it: a figure that follows the order.

    A rule that puts a whole group first (the query's confident category) ranks some results above
    better-fitting ones; the figure then says the lower one's fit is at most the one above it.
    """
    return np.minimum.accumulate(np.asarray(values, dtype=np.float64), axis=-1)
