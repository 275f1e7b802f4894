"""Which rows of an index a search may return, decided once per search and handed down as one value.

A search is restricted by attribute filters, by the products it leaves out (the query's own product,
those already voted on), by a region of the catalogue (`within`: e.g. the rows a text search matched)
and may ask for exact search (evaluation). `Index.select` resolves all of that once into a
`Selection`; the UI, the engine, the ranking and the index then pass that one object down instead
of four arguments, and nobody computes the allowed rows twice. The index maps it onto its search:
a mask over a full exact pass, the gathered rows for a selective one, a FAISS ID selector (a bitmap
of the allowed rows) inside the IVF and HNSW scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["Selection"]


@dataclass(frozen=True, eq=False)
class Selection:
    """The allowed rows of an index of `total` rows: sorted positions, or None for every row."""

    total: int
    rows: np.ndarray | None = None
    exact: bool = False

    @classmethod
    def everything(cls, total: int, *, exact: bool = False) -> "Selection":
        return cls(total, None, exact)

    @property
    def size(self) -> int:
        """How many rows may be returned."""
        return self.total if self.rows is None else len(self.rows)

    @property
    def share(self) -> float:
        """The allowed rows' share of the index (1.0 when nothing is refused)."""
        return self.size / self.total if self.total else 0.0

    def positions(self) -> np.ndarray:
        """The allowed rows as sorted positions (every row when nothing is refused)."""
        return np.arange(self.total) if self.rows is None else self.rows

    def narrowed(self, rows: np.ndarray) -> "Selection":
        """This selection, keeping only the sorted unique `rows` among its own."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.rows is not None:
            rows = np.intersect1d(rows, self.rows, assume_unique=True)
        return Selection(self.total, rows, self.exact)

    @cached_property
    def mask(self) -> np.ndarray:
        """One bool per row of the index: may it be returned (built on first use, then kept)."""
        allowed = np.zeros(self.total, dtype=bool)
        allowed[self.positions()] = True
        return allowed

    @cached_property
    def bitmap(self) -> np.ndarray:
        """The mask packed one bit a row, lowest bit first: what `faiss.IDSelectorBitmap` reads."""
        return np.packbits(self.mask, bitorder="little")
