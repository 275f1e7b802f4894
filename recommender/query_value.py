"""What a visual search looks for, as one value: the query's vector and its colours under their own names.

A query is the embedding of a picture (or a catalogue product's stored one, or a refined mix of
them) in the index's space and, for indexes that keep their products' appearance (format 3), the
foreground colour histogram of what it shows. The two used to travel as one array, the vector with
the colours appended, that callers called a vector and one function sliced apart again; `Query`
keeps them apart. Stores that keep a query on disk (`recommender.uploads`) keep `to_array()` and
read it back with `from_array`: that layout is defined here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.refine import rocchio

__all__ = ["Query"]


def _frozen(values: np.ndarray) -> np.ndarray:
    array = np.array(values, dtype=np.float32).reshape(-1)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Query:
    """A query's `vector` (the index's space) and `colours` (its colour histogram; None when unused)."""

    vector: np.ndarray
    colours: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "vector", _frozen(self.vector))
        if self.colours is not None:
            object.__setattr__(self, "colours", _frozen(self.colours))

    def __len__(self) -> int:
        """Values the query holds: the length of `to_array()`."""
        return len(self.vector) + (0 if self.colours is None else len(self.colours))

    def to_array(self) -> np.ndarray:
        """The query as one float32 array (vector, then colours), for a store that keeps it on disk."""
        return self.vector.copy() if self.colours is None else np.concatenate([self.vector, self.colours])

    @classmethod
    def from_array(cls, values: np.ndarray, dim: int) -> "Query":
        """The query `to_array` wrote, for an index of `dim`-dimensional vectors (the rest are colours)."""
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        return cls(values[:dim], values[dim:] if len(values) > dim else None)

    def refined(self, liked: Sequence["Query"], disliked: Sequence["Query"]) -> "Query":
        """Rocchio's move towards the liked queries and away from the disliked ones, on both parts."""
        vector = rocchio(self.vector, _stack(liked, "vector", len(self.vector)),
                         _stack(disliked, "vector", len(self.vector)))
        if self.colours is None:
            return Query(vector)
        size = len(self.colours)
        return Query(vector, rocchio(self.colours, _stack(liked, "colours", size), _stack(disliked, "colours", size)))


def _stack(queries: Sequence[Query], part: str, size: int) -> np.ndarray:
    return np.array([getattr(q, part) for q in queries], dtype=np.float32).reshape(-1, size)
