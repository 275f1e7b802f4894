"""Search products by the words of their names (TF-IDF), alone or to narrow a photo search.

"floral" or "kurta" are words a photo cannot say. Each product's name (or, for a catalogue without
names, its attribute values) is a document; scikit-learn's TfidfVectorizer weighs words by how rare
they are, so a query word that few products have counts most. Words are matched from their
beginning ("flor" finds "Floral"), on words of letters and digits, case and accents ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.catalog import Product

__all__ = ["TextIndex", "MAX_QUERY_CHARS"]

MAX_QUERY_CHARS = 100


class TextIndex:
    """TF-IDF vectors of one text per product, in the index's row order."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._vectorizer = TfidfVectorizer(strip_accents="unicode", lowercase=True, token_pattern=r"(?u)\b\w+\b",
                                           sublinear_tf=True, dtype=np.float32)
        self._matrix = self._vectorizer.fit_transform(texts) if any(t.strip() for t in texts) else None
        vocabulary = self._vectorizer.vocabulary_ if self._matrix is not None else {}
        self._words = np.array(sorted(vocabulary), dtype=object)
        self._columns = np.array([vocabulary[w] for w in self._words], dtype=np.int64)

    @classmethod
    def of_products(cls, products: Sequence[Product], name_attribute: str | None) -> "TextIndex":
        """Each product's name; without a name attribute, its attribute values ("Dress Adults")."""
        if name_attribute:
            return cls([p.attributes.get(name_attribute, "") for p in products])
        return cls([" ".join(p.attributes.values()) for p in products])

    def common_words(self, n: int = 5) -> list[str]:
        """The words most products have, among those of letters that fewer than half have (in every
        product, a word narrows nothing): what a shopper could type here, most common first."""
        if self._matrix is None:
            return []
        products = np.bincount(self._matrix.indices, minlength=self._matrix.shape[1])[self._columns]
        useful = [(-count, str(word)) for word, count in zip(self._words, products)
                  if len(word) > 2 and word.isalpha() and count <= self._matrix.shape[0] / 2]
        return [word for _, word in sorted(useful)[:n]]

    def _query_columns(self, text: str) -> list[np.ndarray]:
        """Per query word, the vocabulary columns of the words it begins (empty when none)."""
        if self._matrix is None:
            return []
        analyse = self._vectorizer.build_analyzer()
        columns = []
        for word in dict.fromkeys(analyse(text[:MAX_QUERY_CHARS])):
            start = np.searchsorted(self._words, word, side="left")
            end = np.searchsorted(self._words, word + "\U0010ffff", side="left")
            columns.append(self._columns[start:end])
        return columns

    def scores(self, text: str) -> np.ndarray | None:
        """Per product, the TF-IDF weight of the query's words (0: not every word found); None for no words."""
        columns = self._query_columns(text)
        if not columns:
            return None
        total = np.zeros(self._matrix.shape[0], dtype=np.float32)
        found = np.ones(self._matrix.shape[0], dtype=bool)
        for word_columns in columns:  # every word must be found (AND), each by any word it begins
            weight = np.asarray(self._matrix[:, word_columns].max(axis=1).todense()).ravel() if len(word_columns) \
                else np.zeros(self._matrix.shape[0], dtype=np.float32)
            found &= weight > 0
            total += weight
        return np.where(found, total, 0.0)

    def matching(self, text: str) -> np.ndarray | None:
        """Sorted positions of the products whose text holds every query word; None when the query has none."""
        scores = self.scores(text)
        return None if scores is None else np.flatnonzero(scores > 0)

    def ranked(self, text: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Positions of the matching products (among `rows` when given), best match first, ties by position."""
        scores = self.scores(text)
        if scores is None:
            return np.empty(0, dtype=np.int64)
        candidates = np.flatnonzero(scores > 0)
        if rows is not None:
            candidates = candidates[np.isin(candidates, rows)]
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order]
