"""How well the audit finds wrong labels: swap a share of held-out products' labels, audit, count.

The held-out products (the manifest's `holdout`, or the same rule with `--seed` on an untrained index)
are the catalogue under test; a seeded share of their labels is replaced by another product's label
of the same parent group (Kaggle: an articleType from the same masterCategory), so each wrong label is
a plausible one. The audit then runs over the whole index with those labels, and its suspects among
the held-out products are scored: precision and recall at N and 2N, N the number swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.audit import audit, label_attributes
from recommender.errors import RecommenderError
from recommender.index_files import IndexFiles
from recommender.manifest import Holdout

__all__ = ["SwapResult", "swap_labels", "swap_test"]

PARENTS = {"articleType": "masterCategory", "subCategory": "masterCategory"}


@dataclass(frozen=True)
class SwapResult:
    attribute: str
    held_out: int
    swapped: int
    precision: dict[int, float]  # at N and 2N
    recall: dict[int, float]

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "held_out": self.held_out, "swapped": self.swapped,
                "precision_at": {str(k): v for k, v in self.precision.items()},
                "recall_at": {str(k): v for k, v in self.recall.items()}}


def swap_labels(labels: Sequence[str], parents: Sequence[str], candidates: np.ndarray, share: float,
                seed: int) -> tuple[list[str], np.ndarray]:
    """(new labels, rows swapped): `share` of the `candidates` rows get the label of another random product
    of the same parent whose label differs (none where the parent has a single label)."""
    rng = np.random.default_rng(seed)
    labels, parents = np.asarray(labels, dtype=object), np.asarray(parents, dtype=str)
    wanted = int(round(share * len(candidates)))
    swapped: list[int] = []
    for row in rng.permutation(candidates):
        if len(swapped) == wanted:
            break
        donors = np.flatnonzero((parents == parents[row]) & (labels != labels[row]) & (labels != ""))
        if labels[row] and len(donors):
            labels[row] = labels[rng.choice(donors)]
            swapped.append(int(row))
    return [str(v) for v in labels], np.asarray(swapped, dtype=np.int64)


def swap_test(files: IndexFiles, share: float = 0.02, seed: int = 0, holdout: Holdout | None = None) -> SwapResult:
    attributes = label_attributes(files)
    if not attributes:
        raise RecommenderError(f"Index {files.path} has no category labels to swap.")
    attribute = attributes[0]
    holdout = holdout or files.manifest.holdout or Holdout(0.1, seed)
    held = np.flatnonzero(holdout.mask(files.ids))
    if not len(held):
        raise RecommenderError(f"No product of index {files.path} is held out by {holdout}.")
    original = [p.attributes.get(attribute, "") for p in files.products]
    parent = PARENTS.get(attribute)
    parents = [p.attributes.get(parent, "") if parent else "" for p in files.products]
    labels, swapped = swap_labels(original, parents, held, share, seed)
    report = audit(files, {attribute: labels}, images=False)
    held_ids = {files.ids[i] for i in held}
    ranked = [s.id for s in report.suspects if s.id in held_ids]
    truth = {files.ids[i] for i in swapped}
    n = len(truth)
    precision = {k: round(len(truth.intersection(ranked[:k])) / k, 4) for k in (n, 2 * n)} if n else {}
    recall = {k: round(len(truth.intersection(ranked[:k])) / n, 4) for k in (n, 2 * n)} if n else {}
    return SwapResult(attribute, len(held), n, precision, recall)
