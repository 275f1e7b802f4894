"""Which garment each catalogue category is worn as: top, bottoms, dress, shoes, hat or bag (or none).

Shop the look finds one garment per kind, the looks set lays products out by kind, and the evaluation counts a
garment found when its proposal is of its kind: all read it here. A Kaggle-like catalogue says it through its
subCategory (`GARMENT_KINDS`); a catalogue without one has every category as its own kind.
"""

from __future__ import annotations

import weakref

import numpy as np

from recommender.index import Index

__all__ = ["GARMENT_KINDS", "KIND_ATTRIBUTE", "garment_kinds", "kinds_of", "kind_mass"]

# Kaggle subCategory -> the garment kind it is worn as; other subCategories (watches, perfume...) are no garment
GARMENT_KINDS = {"Topwear": "top", "Bottomwear": "bottoms", "Dress": "dress", "Saree": "dress", "Apparel Set": "dress",
                 "Shoes": "shoes", "Sandal": "shoes", "Flip Flops": "shoes", "Headwear": "hat", "Bags": "bag"}
KIND_ATTRIBUTE = "subCategory"
_KINDS: "weakref.WeakKeyDictionary[Index, list[str | None]]" = weakref.WeakKeyDictionary()


def garment_kinds(index: Index, values: list[str]) -> list[str | None]:
    """The garment kind of each category value (None: not a garment), by its products' usual subCategory;
    each value is its own kind in a catalogue without subCategory (every category is a garment there)."""
    if KIND_ATTRIBUTE not in index.attributes():
        return list(values)
    groups = sorted(GARMENT_KINDS)
    categories = index.value_codes(index.roles.category, values)
    subs = index.value_codes(KIND_ATTRIBUTE, groups)
    known = (categories >= 0) & (subs >= 0)
    counts = np.zeros((len(values), len(groups)), dtype=np.int64)
    np.add.at(counts, (categories[known], subs[known]), 1)
    totals = np.bincount(categories[categories >= 0], minlength=len(values))
    usual = counts.argmax(axis=1)
    return [GARMENT_KINDS[groups[g]] if counts[v, g] * 2 > totals[v] else None for v, g in enumerate(usual)]


def kinds_of(index: Index, values: list[str]) -> list[str | None]:
    """`garment_kinds` of the index's head's category values, worked out once per loaded index."""
    if index not in _KINDS:
        _KINDS[index] = garment_kinds(index, values)
    return _KINDS[index]


def kind_mass(probabilities: np.ndarray, kinds: list[str | None]) -> tuple[list[str], np.ndarray]:
    """The garment kinds and (n, K) the probability of each kind in each row of (n, V) category probabilities."""
    names = sorted({k for k in kinds if k is not None})
    member = np.array([[k == name for name in names] for k in kinds], dtype=np.float32).reshape(-1, len(names))
    return names, np.atleast_2d(probabilities) @ member
