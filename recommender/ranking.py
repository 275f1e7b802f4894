"""The order a shopper sees: the visual neighbours, re-ranked by what a photo's pixels alone get wrong.

Nearest neighbours in a CNN's space confuse a black dress on a beige wall with beige things, and
a few "hub" products sit close to everything. So the visual top `candidates` (after the filters; at
least STABLE_RESULTS, whatever k, so that asking for more never reorders the first results)
are re-scored:

  score = cos(query, item)                                    the visual (or trained head's) similarity
        + category_weight * p(item's category | query)        the head's classifiers, when there is one
        + label_weight * p(item's colour/gender | query)
        + age_weight * p(item's age group | query)            Adults/Kids, where the catalogue labels it
        + colour_weight * kind(item) * BC(query colour, item colour)   foreground colour histograms (appearance),
                                                      within the query's kind: kind(item) is the head's p(item's
                                                      category), or without a head the share of the query's 10
                                                      nearest products of the item's category
        - hub_weight * max(0, hubness(item) - median)         items close to everything pay (hubness.npy)
        + what shoppers' votes taught (recommender.preferences)  a bounded per-product term; and the head's
                                                      kind probabilities scaled by the learnt kind preferences, or,
                                                      where `learn` switched it on, by the kind votes of voting
                                                      queries near this one (recommender.vote_memory)

and the query's likely kinds come first: the smallest set of at most three categories holding
`category_first` of the head's probability. Their nearest products join the visual pool (a boot
whose tags say "Shoes" gets shoes even when none is among its visual neighbours), and they share
the first places in proportion to p ** `mix_sharpness`, the likeliest first: a sure query fills
the list with its kind, an unsure one (a shirt at 0.4, a blazer at 0.35) mixes both instead of
filling ten places with one guess, and the list always starts with the kind the tags name. Identical
pictures (same pixels, or distance about 0) collapse into one result. `rank` also gives each result
the figure a shopper reads, its match (`recommender.match`). Indexes of format 2 and
older (raw vectors, no appearance), and indexes of random weights, rank by distance alone. The weights are settings,
chosen on held-out data (`scripts/tune_ranking.py`: held-out Kaggle products and the clothing-small
train photos the head never saw), never on the figures the README reports. There, the colour histogram
added nothing once the head's colour classifier counted (label_weight), so its weight is 0 when the
head classifies colour and 0.5 otherwise (a raw index; a head of a catalogue whose colours are computed).
The age term is the label term of a catalogue's age group (the demo's Adults/Kids, `roles.age`) under its
own weight, so an adult's photo ranks adults' items first as far as the head can tell; 0.5 balanced
adults' and kids' photos best on a held-out half of the demo (scripts/demo_check.py --age-seed 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

import numpy as np

from recommender.appearance import colour_similarity
from recommender.errors import RecommenderError
from recommender.index import Index
from recommender.match import alike, fit, never_rising, typical_distance
from recommender.preferences import BoundPreferences, index_kinds
from recommender.selection import Selection
from recommender.settings import Settings
from recommender.vote_memory import BoundMemory, paired

__all__ = ["RankingSettings", "Ranker", "Ranked", "category_set", "STABLE_RESULTS"]

UNTRAINED_COLOUR = 0.5  # colour weight on a raw index: +9 points of baseColour P@10 for -2 of articleType
CATEGORY_FIRST_VALUES = 3  # at most this many sibling categories come first together
KIND_VOTERS = 10  # nearest products whose categories say a raw index's query kind
SAME_PICTURE = 1e-3  # Euclidean distance below which two unit vectors are the same picture
# Up to this many results (a page's and the API's most) the re-scored pool does not depend on k, so the first
# n results never change when more are asked for ("Show more", a shared link with a larger n)
STABLE_RESULTS = 100


@dataclass(frozen=True)
class RankingSettings:
    """Weights of the re-ranking terms (module notes); `category_first` None switches that rule off."""

    candidates: int = 100
    category_weight: float = 1.5
    label_weight: float = 0.5
    age_weight: float = 0.5
    colour_weight: float | None = None  # None: 0 when a head classifies colour, else UNTRAINED_COLOUR
    hub_weight: float = 0.5
    category_first: float | None = 0.5
    mix_sharpness: float = 2.0  # likely kinds share the first places in proportion to p ** this

    @classmethod
    def from_env(cls, **overrides: object) -> "RankingSettings":
        """Defaults, then RECOMMENDER_RANKING_<FIELD> variables (read by `recommender.settings`)."""
        return replace(cls(**dict(Settings.from_env().ranking)), **overrides)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise RecommenderError(f"The ranking needs at least 1 candidate, not {self.candidates}.")
        if self.category_first is not None and not 0.0 < self.category_first <= 1.0:
            raise RecommenderError(f"category_first must be above 0 and at most 1 (or off), not {self.category_first}.")


def category_set(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """Per query, the class codes that come first: the fewest top classes (<= 3) holding `threshold`
    of the probability, else (a very unsure query) the top three, so the list still starts with the kind
    the tag names; an empty row (all -1) when the rule is off. (n, 3) int, padded with -1."""
    n = len(probabilities)
    chosen = np.full((n, CATEGORY_FIRST_VALUES), -1, dtype=np.int64)
    if threshold is None or probabilities.size == 0:
        return chosen
    order = np.argsort(-probabilities, axis=1)[:, :CATEGORY_FIRST_VALUES]
    mass = np.cumsum(np.take_along_axis(probabilities, order, axis=1), axis=1)
    reached = mass >= threshold
    reached[:, -1] = True  # none reached: the top three share the first places
    for i in range(n):
        size = int(np.argmax(reached[i])) + 1
        chosen[i, :size] = order[i, :size]
    return chosen


class Ranked(NamedTuple):
    """A ranker's answer: (n, k) arrays, best first, padded with inf / -1 / nan."""

    distances: np.ndarray  # the index's own Euclidean distances
    positions: np.ndarray  # rows of the index
    matches: np.ndarray  # 0..1, never rising along a row (recommender.match)


def _shares(probabilities: np.ndarray, first: np.ndarray, sharpness: float) -> np.ndarray:
    """Per query, the share of the first places each of its likely kinds gets: p ** sharpness, normalised (n, 3)."""
    p = np.where(first >= 0, np.take_along_axis(probabilities, np.maximum(first, 0), axis=1), 0.0) ** sharpness
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def _interleave(ranked: np.ndarray, kinds: np.ndarray, first: np.ndarray, shares: np.ndarray) -> list[int]:
    """Pool columns in shown order: the likely kinds' items first, each kind taking places in proportion to
    its share (the likeliest first, so the list starts with the kind the tags name), then the rest by score."""
    queues = [[j for j in ranked if kinds[j] == kind] for kind in first if kind >= 0]
    rest = [j for j in ranked if kinds[j] not in first[first >= 0]]
    taken = np.zeros(len(queues))
    out: list[int] = []
    while any(queues):
        open_ = [q for q in range(len(queues)) if queues[q]]
        place = len(out) + 1
        pick = max(open_, key=lambda q: (shares[q] * place - taken[q], shares[q]))
        out.append(queues[pick].pop(0))
        taken[pick] += 1
    return out + rest


class Ranker:
    """Re-ranks an index's visual candidates (module notes); `search` answers like `Index.search`."""

    def __init__(self, index: Index, settings: RankingSettings | None = None,
                 learned: Callable[[], BoundPreferences | None] | None = None,
                 memory: Callable[[], BoundMemory | None] | None = None) -> None:
        """`learned` gives what the votes taught (recommender.preferences), or None: rank without it; `memory`
        the vote memory (recommender.vote_memory) while it is switched on: it then takes the kind term's place."""
        self.index = index
        self.settings = settings or RankingSettings.from_env()
        self.learned, self.memory = learned, memory
        # random features put every product at about the same distance: any re-ranking term would swamp
        # them, so such an index (tests, RECOMMENDER_WEIGHTS=none) ranks by distance alone
        self.reranks = index.manifest.normalized and index.appearance is not None and not index.manifest.random_weights
        self.head = index.head
        self._codes: dict[str, np.ndarray] = {}  # attribute -> per row, its value's class in the head (-1: none)
        if self.head is not None:
            for attribute, vocabulary in self.head.attributes.items():
                if attribute in index.attributes():
                    self._codes[attribute] = index.value_codes(attribute, vocabulary)
        category = index.roles.category  # without a head, the query's kind is a vote of its nearest products
        self._vote_codes = (index.value_codes(category, list(index.attribute_values(category)))
                            if self.head is None and category is not None else None)
        # the histogram adds nothing once a colour classifier counts (tuned); a head that learnt no colour
        # (the demo: its colours are computed, not labels) leaves colour to the histogram
        colour = index.roles.colour
        self._auto_colour_weight = 0.0 if colour is not None and colour in self._codes else UNTRAINED_COLOUR
        self._head_kinds = None  # the head's category classes as codes of the index's kinds (learnt preferences)
        if index.roles.category in self._codes:
            code_of = {kind: code for code, kind in enumerate(index_kinds(index)[0])}
            self._head_kinds = np.array([code_of.get(v, -1) for v in self.head.attributes[index.roles.category]],
                                        dtype=np.int64)
        hubness = index.hubness
        self._hub_excess = None if hubness is None else np.maximum(0.0, hubness - np.median(hubness))

    @cached_property
    def typical_distance(self) -> float | None:
        """The median distance between two of the index's products: the scale of `alike`."""
        return typical_distance(self.index.vectors)

    def alike(self, distance: float) -> float | None:
        """How alike a result's picture looks to the query, 0..1, from its distance alone."""
        value = alike(distance, self.typical_distance)
        return None if value is None else float(value)

    def search(self, vectors: np.ndarray, colours: np.ndarray | None, k: int = 10,
               selection: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows of each query in `selection` (None: any): (distances, positions), (n, k), best first,
        padded with inf / -1.

        `colours` are the queries' foreground colour histograms (None: colour is not used). Distances
        are the Euclidean ones of the index; the order is the re-ranked one.
        """
        distances, positions, _ = self.rank(vectors, colours, k, selection)
        return distances, positions

    def rank(self, vectors: np.ndarray, colours: np.ndarray | None, k: int = 10,
             selection: Selection | None = None) -> Ranked:
        """`search`, with each result's match: its score as a share of the most a product can score
        (without re-ranking, how alike it looks), capped by the results above it (`never_rising`)."""
        selection = selection or Selection.everything(len(self.index))
        if not self.reranks:
            distances, positions = self.index.search(vectors, k, selection)
            matches = alike(distances, self.typical_distance)
            return Ranked(distances, positions, np.full(distances.shape, np.nan) if matches is None else matches)
        queries = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        pool = max(self.settings.candidates, STABLE_RESULTS, k)
        distances, positions = self.index.search(queries, pool, selection)
        s = self.settings
        category, age = self.index.roles.category, self.index.roles.age
        probabilities = self.head.classify(queries) if self._codes else {}
        learned = self.learned() if self.learned is not None else None
        memory = paired(self.memory() if self.memory is not None else None, learned)
        if category in self._codes and (memory is not None or learned is not None):
            p = probabilities[category]  # the kinds voters liked for such (or for near) queries gain
            likely = category_set(p, s.category_first)
            taught = None if learned is None else learned.reweigh(p, self._head_kinds[np.argmax(p, axis=1)],
                                                                  self._head_kinds, likely)
            probabilities[category] = (memory.reweigh(queries, p, self._head_kinds, likely, otherwise=taught)
                                       if memory is not None else taught)
        first = shares = None
        if category in self._codes:
            first = category_set(probabilities[category], s.category_first)
            shares = _shares(probabilities[category], first, s.mix_sharpness)
            distances, positions = self._with_first_kinds(queries, distances, positions, first, pool, selection)
        valid = positions >= 0
        safe = np.where(valid, positions, 0)
        score = 1.0 - distances**2 / 2.0  # cosine, on unit vectors
        best = 1.0  # the most a product can score
        colour_weight = s.colour_weight if s.colour_weight is not None else self._auto_colour_weight
        if colours is not None and colour_weight:
            best += colour_weight
            likeness = colour_similarity(np.atleast_2d(colours), self.index.appearance.colours[safe])
            score += colour_weight * self._same_kind(probabilities, safe, distances) * likeness
        for attribute, codes in self._codes.items():
            weight = s.category_weight if attribute == category else s.age_weight if attribute == age \
                else s.label_weight
            best += weight
            rows = codes[safe]
            p = np.take_along_axis(probabilities[attribute], np.maximum(rows, 0), axis=1)
            score += weight * np.where(rows >= 0, p, 0.0)
        if self._hub_excess is not None and s.hub_weight:
            score -= s.hub_weight * self._hub_excess[safe]
        if learned is not None:
            score += learned.bonus(safe)
        fits = fit(score, best)
        score = np.where(valid, score, -np.inf)
        kinds = self._codes[category][safe] if first is not None else None
        return self._top(queries, distances, positions, score, fits, k, kinds, first, shares)

    def query_kinds(self, queries: np.ndarray) -> np.ndarray:
        """Each query's predicted kind, as a code of `preferences.index_kinds` (-1 without a head's category):
        what learnt kind preferences are keyed by, at learning as at ranking."""
        category = self.index.roles.category
        if category not in self._codes:
            return np.full(len(np.atleast_2d(queries)), -1, dtype=np.int64)
        return self._head_kinds[np.argmax(self.head.classify(queries)[category], axis=1)]

    def _same_kind(self, probabilities: dict[str, np.ndarray], safe: np.ndarray, distances: np.ndarray) -> np.ndarray:
        """Per candidate, how likely it is the query's kind of garment: the head's p(its category), else the share
        of the query's nearest products (identical pictures aside) of its category, else 1. The colour term is
        weighed by it, so colour orders garments within the query's kind and never pulls another kind in."""
        category = self.index.roles.category
        if category in self._codes:
            rows = self._codes[category][safe]
            return np.where(rows >= 0, np.take_along_axis(probabilities[category], np.maximum(rows, 0), axis=1), 0.0)
        if self._vote_codes is None:
            return np.ones(safe.shape)
        rows = self._vote_codes[safe]
        voters = (distances >= SAME_PICTURE) & np.isfinite(distances) & (rows >= 0)
        voters &= np.cumsum(voters, axis=1) <= KIND_VOTERS
        same = (rows[:, :, None] == rows[:, None, :]) & voters[:, None, :]
        return same.sum(axis=2) / np.maximum(voters.sum(axis=1, keepdims=True), 1)

    def _with_first_kinds(self, queries: np.ndarray, distances: np.ndarray, positions: np.ndarray,
                          first: np.ndarray, pool: int, selection: Selection) -> tuple[np.ndarray, np.ndarray]:
        """The visual pool of each query whose likely kinds come first, plus the nearest products of
        those kinds: a boot's tags say "Shoes", so shoes lead even when none is among its visual top.
        The kinds' rows come from the index's postings (what they hold, never a pass over every row)."""
        category = self.index.roles.category
        vocabulary = list(self.head.attributes[category])
        extra_d = np.full_like(distances, np.inf)
        extra_p = np.full_like(positions, -1)
        for i in np.flatnonzero((first >= 0).any(axis=1)):
            kinds = self.index.allowed({category: [vocabulary[c] for c in first[i] if c >= 0]})
            extra_d[i], extra_p[i] = self.index.search(queries[i], pool, selection.narrowed(kinds))
        distances = np.concatenate([distances, extra_d], axis=1)
        positions = np.concatenate([positions, extra_p], axis=1)
        for i in range(len(positions)):  # a product in both pools counts once
            _, unique = np.unique(positions[i], return_index=True)
            repeated = np.ones(positions.shape[1], dtype=bool)
            repeated[unique] = False
            positions[i, repeated], distances[i, repeated] = -1, np.inf
        return distances, positions

    def _top(self, queries: np.ndarray, distances: np.ndarray, positions: np.ndarray, score: np.ndarray,
             fits: np.ndarray, k: int, kinds: np.ndarray | None = None, first: np.ndarray | None = None,
             shares: np.ndarray | None = None) -> Ranked:
        """The k best, one result per picture (same digest or distance about 0 to a kept one); the
        likely kinds (`first`) lead, sharing the places by `shares`. A result's match is its fit, capped
        by the matches above it (`never_rising`: the kinds that lead may fit less than what follows)."""
        out_d = np.full((len(queries), k), np.inf)
        out_p = np.full((len(queries), k), -1, dtype=np.int64)
        out_m = np.full((len(queries), k), np.nan)
        digests = self.index.appearance.digests
        order = np.lexsort((positions, -score), axis=1)
        for i in range(len(queries)):
            ranked = order[i]
            if first is not None and (first[i] >= 0).any():
                ranked = _interleave(ranked, kinds[i], first[i], shares[i])
            kept: list[int] = []
            seen: set[str] = set()
            for j in ranked:
                row = int(positions[i, j])
                if row < 0 or not np.isfinite(score[i, j]):
                    continue
                if digests[row] in seen or (kept and self._near(row, kept)):
                    continue
                seen.add(str(digests[row]))
                out_d[i, len(kept)], out_p[i, len(kept)], out_m[i, len(kept)] = distances[i, j], row, fits[i, j]
                kept.append(row)
                if len(kept) == k:
                    break
        return Ranked(out_d, out_p, never_rising(out_m))

    def _near(self, row: int, kept: list[int]) -> bool:
        matrix = self.index.vectors
        gap = np.linalg.norm(np.asarray(matrix[kept], dtype=np.float32) - np.asarray(matrix[row]), axis=1)
        return bool((gap < SAME_PICTURE).any())
