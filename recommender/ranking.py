"""The order a shopper sees: the visual neighbours, re-ranked by what a photo's pixels alone get wrong.

Nearest neighbours in a CNN's space confuse a black dress on a beige wall with beige things, and
a few "hub" products sit close to everything. So the visual top `candidates` (after the filters; at
least STABLE_RESULTS, whatever k, so that asking for more never reorders the first results)
are re-scored:

  score = cos(query, item)                                    the visual (or trained head's) similarity
        + category_weight * p(item's category | query)        the head's classifiers, when there is one
        + label_weight * p(item's colour/gender | query)
        + colour_weight * BC(query colour, item colour)       foreground colour histograms (appearance)
        - hub_weight * max(0, hubness(item) - median)         items close to everything pay (hubness.npy)

and, when the head is sure of the query's category (the smallest set of at most three values
holding `category_first` of its probability), items of those categories come first. Identical
pictures (same pixels, or distance about 0) collapse into one result. Indexes of format 2 and
older (raw vectors, no appearance), and indexes of random weights, rank by distance alone. The weights are settings,
chosen on held-out data (`scripts/tune_ranking.py`: held-out Kaggle products and the clothing-small
train photos the head never saw), never on the figures the README reports. There, the colour histogram
added nothing once the head's colour classifier counted (label_weight), so its weight is 0 when the
head classifies colour and 0.5 otherwise (a raw index; a head of a catalogue whose colours are computed).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, fields, replace

import numpy as np

from recommender.appearance import colour_similarity
from recommender.errors import RecommenderError
from recommender.index import Filters, Index

__all__ = ["RankingSettings", "Ranker", "category_set", "STABLE_RESULTS"]

UNTRAINED_COLOUR = 0.5  # colour weight on a raw index: +9 points of baseColour P@10 for -2 of articleType
CATEGORY_FIRST_VALUES = 3  # at most this many sibling categories come first together
SAME_PICTURE = 1e-3  # Euclidean distance below which two unit vectors are the same picture
FIRST = 10.0  # added to the score of an item of the query's confident category: above any other term
# Up to this many results (a page's and the API's most) the re-scored pool does not depend on k, so the first
# n results never change when more are asked for ("Show more", a shared link with a larger n)
STABLE_RESULTS = 100


@dataclass(frozen=True)
class RankingSettings:
    """Weights of the re-ranking terms (module notes); `category_first` None switches that rule off."""

    candidates: int = 100
    category_weight: float = 1.5
    label_weight: float = 0.5
    colour_weight: float | None = None  # None: 0 when a head classifies colour, else UNTRAINED_COLOUR
    hub_weight: float = 0.5
    category_first: float | None = 0.5

    @classmethod
    def from_env(cls, **overrides: object) -> "RankingSettings":
        """Defaults, then RECOMMENDER_RANKING_<FIELD> variables (category_first: a number or "off")."""
        values: dict[str, object] = {}
        for field in fields(cls):
            text = os.environ.get(f"RECOMMENDER_RANKING_{field.name.upper()}")
            if text is None:
                continue
            try:
                if field.name == "category_first":
                    values[field.name] = None if text.strip().lower() in ("off", "none", "") else float(text)
                else:
                    values[field.name] = int(text) if field.name == "candidates" else float(text)
            except ValueError:
                raise RecommenderError(f"RECOMMENDER_RANKING_{field.name.upper()}={text!r} is not a number.") from None
        return replace(cls(**values), **overrides)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise RecommenderError(f"The ranking needs at least 1 candidate, not {self.candidates}.")
        if self.category_first is not None and not 0.0 < self.category_first <= 1.0:
            raise RecommenderError(f"category_first must be above 0 and at most 1 (or off), not {self.category_first}.")


def category_set(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """Per query, the class codes that come first: the fewest top classes (<= 3) holding `threshold`
    of the probability; an empty row (all -1) when no such set exists or the rule is off. (n, 3) int."""
    n = len(probabilities)
    chosen = np.full((n, CATEGORY_FIRST_VALUES), -1, dtype=np.int64)
    if threshold is None or probabilities.size == 0:
        return chosen
    order = np.argsort(-probabilities, axis=1)[:, :CATEGORY_FIRST_VALUES]
    mass = np.cumsum(np.take_along_axis(probabilities, order, axis=1), axis=1)
    reached = mass >= threshold
    for i in np.flatnonzero(reached.any(axis=1)):
        size = int(np.argmax(reached[i])) + 1
        chosen[i, :size] = order[i, :size]
    return chosen


class Ranker:
    """Re-ranks an index's visual candidates (module notes); `search` answers like `Index.search`."""

    def __init__(self, index: Index, settings: RankingSettings | None = None) -> None:
        self.index = index
        self.settings = settings or RankingSettings.from_env()
        # random features put every product at about the same distance: any re-ranking term would swamp
        # them, so such an index (tests, RECOMMENDER_WEIGHTS=none) ranks by distance alone
        self.reranks = index.manifest.normalized and index.appearance is not None and not index.manifest.random_weights
        self.head = index.head
        self._codes: dict[str, np.ndarray] = {}  # attribute -> per row, its value's class in the head (-1: none)
        if self.head is not None:
            for attribute, vocabulary in self.head.attributes.items():
                if attribute in index.attributes():
                    self._codes[attribute] = index.value_codes(attribute, vocabulary)
        # the histogram adds nothing once a colour classifier counts (tuned); a head that learnt no colour
        # (the demo: its colours are computed, not labels) leaves colour to the histogram
        colour = index.roles.colour
        self._auto_colour_weight = 0.0 if colour is not None and colour in self._codes else UNTRAINED_COLOUR
        hubness = index.hubness
        self._hub_excess = None if hubness is None else np.maximum(0.0, hubness - np.median(hubness))

    def search(self, vectors: np.ndarray, colours: np.ndarray | None, k: int = 10, filters: Filters = None,
               exclude: Collection[str] = (), within: np.ndarray | None = None, *,
               exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k best allowed rows of each query: (distances, positions), (n, k), best first, padded with inf / -1.

        `colours` are the queries' foreground colour histograms (None: colour is not used). Distances
        are the Euclidean ones of the index; the order is the re-ranked one.
        """
        if not self.reranks:
            return self.index.search(vectors, k, filters, exclude, within, exact=exact)
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        pool = max(self.settings.candidates, STABLE_RESULTS, k)
        distances, positions = self.index.search(queries, pool, filters, exclude, within, exact=exact)
        valid = positions >= 0
        safe = np.where(valid, positions, 0)
        score = 1.0 - distances**2 / 2.0  # cosine, on unit vectors
        s = self.settings
        colour_weight = s.colour_weight if s.colour_weight is not None else self._auto_colour_weight
        if colours is not None and colour_weight:
            score += colour_weight * colour_similarity(np.atleast_2d(colours), self.index.appearance.colours[safe])
        if self._codes:
            probabilities = self.head.classify(queries)
            category = self.index.roles.category
            for attribute, codes in self._codes.items():
                weight = s.category_weight if attribute == category else s.label_weight
                rows = codes[safe]
                p = np.take_along_axis(probabilities[attribute], np.maximum(rows, 0), axis=1)
                score += weight * np.where(rows >= 0, p, 0.0)
                if attribute == category:
                    first = category_set(probabilities[attribute], s.category_first)
                    score += FIRST * ((rows[:, :, None] == first[:, None, :]) & (first[:, None, :] >= 0)).any(axis=2)
        if self._hub_excess is not None and s.hub_weight:
            score -= s.hub_weight * self._hub_excess[safe]
        score = np.where(valid, score, -np.inf)
        return self._top(queries, distances, positions, score, k)

    def _top(self, queries: np.ndarray, distances: np.ndarray, positions: np.ndarray, score: np.ndarray,
             k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best by score, one result per picture (same digest or distance about 0 to a kept one)."""
        out_d = np.full((len(queries), k), np.inf)
        out_p = np.full((len(queries), k), -1, dtype=np.int64)
        digests = self.index.appearance.digests
        order = np.lexsort((positions, -score), axis=1)
        for i in range(len(queries)):
            kept: list[int] = []
            seen: set[str] = set()
            for j in order[i]:
                row = int(positions[i, j])
                if row < 0 or not np.isfinite(score[i, j]):
                    break
                if digests[row] in seen or (kept and self._near(row, kept)):
                    continue
                seen.add(str(digests[row]))
                out_d[i, len(kept)], out_p[i, len(kept)] = distances[i, j], row
                kept.append(row)
                if len(kept) == k:
                    break
        return out_d, out_p

    def _near(self, row: int, kept: list[int]) -> bool:
        matrix = self.index.vectors
        gap = np.linalg.norm(np.asarray(matrix[kept], dtype=np.float32) - np.asarray(matrix[row]), axis=1)
        return bool((gap < SAME_PICTURE).any())
