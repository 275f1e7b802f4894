"""Exact Euclidean nearest neighbours over an index folder, with attribute filters.

Ranking uses ||x||^2 - 2 x.q (the query's own norm is the same for every row): squared norms are
computed once at load, so a batch of queries is one float32 matrix product (BLAS) over the
memory-mapped vectors plus an O(n) top-k selection per query; the k winners' distances are then
recomputed exactly. Attribute filters are integer codes per attribute with row lists per value,
so a filter costs what its smallest selection costs, never a Python loop over products.

As in FAISS, `search(queries, k)` takes a 2-D batch and returns arrays (distances, positions);
`hits(query, k)` is the one-query convenience that returns records. An index folder with an
approximate-search file (`recommender.ann`) is searched through it unless the `Selection` asks for
exact search (evaluation), or leaves few enough rows to score them all; its candidates are re-ranked
by their exact distance here, so the two paths return the same kind of answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recommender.ann import EXACT_ROWS, AnnSearcher
from recommender.catalog import Product
from recommender.errors import IncompatibleIndex, IndexFormatError, RecommenderError
from recommender.index_files import IndexFiles, read_ann, read_hubness, read_index
from recommender.manifest import Manifest
from recommender.model_spec import ModelSpec
from recommender.roles import Roles
from recommender.selection import Selection

if TYPE_CHECKING:
    from recommender.head import Head

__all__ = ["Filters", "Hit", "Index"]

Filters = Mapping[str, Collection[str] | str] | None

NORM_BLOCK_ROWS = 8192  # rows per block when computing norms: bounded extra memory
GATHER_FRACTION = 0.1  # filters keeping fewer rows gather them; more: one full pass (measured crossover)
SCORE_BLOCK_CELLS = 16_000_000  # query rows x index rows scored at once (64 MB of float32)


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    id: str
    distance: float  # Euclidean, not squared
    product: Product
    match: float | None = None  # 0..1 from the ranker's score, never rising down the list (recommender.match)


class Index:
    """A loaded index: products and vectors in the same order, plus what the search needs."""

    def __init__(self, files: IndexFiles, *, ann: bool = True) -> None:
        self.path: Path = files.path
        self.manifest: Manifest = files.manifest
        self.products = files.products
        self.ids = files.ids
        self.vectors = files.vectors
        self.appearance = files.appearance  # colour histograms and pixel digests (format 3), else None
        self._matrix = np.asarray(files.vectors)  # plain ndarray view of the memmap, for BLAS
        self._position = {product_id: i for i, product_id in enumerate(self.ids)}
        self._sq_norms = np.empty(len(self.ids), dtype=np.float32)
        for start in range(0, len(self.ids), NORM_BLOCK_ROWS):
            block = self._matrix[start : start + NORM_BLOCK_ROWS]
            np.einsum("ij,ij->i", block, block, out=self._sq_norms[start : start + NORM_BLOCK_ROWS])
        bad = np.flatnonzero(~np.isfinite(self._sq_norms))  # a NaN or infinite value makes its norm one too
        if len(bad):
            raise IndexFormatError(
                f"Index {self.path} is corrupt: {len(bad)} of its {len(self)} vectors hold NaN or infinite "
                f"values (e.g. product {self.ids[bad[0]]!r}); rebuild it with python -m recommender build "
                f"--catalog DIR --out {self.path}."
            )
        self._codes: dict[str, np.ndarray] = {}
        self._postings: dict[str, list[np.ndarray]] = {}
        self._vocab: dict[str, dict[str, int]] = {}
        for name in dict.fromkeys(key for p in self.products for key in p.attributes):
            vocab = self._vocab[name] = {}
            self._codes[name] = np.fromiter(
                (vocab.setdefault(p.attributes[name], len(vocab)) if name in p.attributes else -1
                 for p in self.products),
                dtype=np.int32,
                count=len(self.products),
            )
        faiss_index = read_ann(self.path, self.manifest, self.vectors) if ann and self.manifest.ann else None
        self.ann: AnnSearcher | None = AnnSearcher(faiss_index, self.manifest.ann) if faiss_index else None

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True, ann: bool = True) -> "Index":
        """Open an index folder (see `recommender.index_files`), checked against its manifest.

        `ann=False` leaves its approximate-search file unread (exact search only, e.g. evaluation).
        """
        return cls(read_index(path, mmap=mmap), ann=ann)

    # ---------------------------------------------------------------- lookup

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._position

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def model(self) -> ModelSpec:
        return self.manifest.model

    @cached_property
    def head(self) -> Head | None:
        """The trained head whose embedding the vectors are (None for a raw backbone index)."""
        if self.model.head is None:
            return None
        from recommender.head import read_head

        return read_head(self.path)

    @cached_property
    def hubness(self) -> np.ndarray | None:
        """Per product, how close it sits to everything (written by train); None when not measured."""
        return read_hubness(self.path, len(self))

    @cached_property
    def roles(self) -> Roles:
        """Which of this catalogue's attributes is the gender, colour, category and name."""
        return Roles.of(self.attributes())

    def position(self, product_id: str) -> int:
        """The row of this product (KeyError if the index does not hold it)."""
        return self._position[product_id]

    def product(self, product_id: str) -> Product:
        """The product with this id (KeyError if the index does not hold it)."""
        return self.products[self._position[product_id]]

    def vector(self, product_id: str) -> np.ndarray:
        """A copy of the stored embedding of this product (KeyError if unknown)."""
        return np.array(self._matrix[self._position[product_id]])

    def attributes(self) -> list[str]:
        """Attribute names that can be filtered on, in catalogue column order."""
        return list(self._codes)

    def attribute_values(self, name: str, rows: np.ndarray | None = None) -> dict[str, int]:
        """Value -> number of products (of `rows` when given: positions), most common first, zeros left out."""
        codes = self._codes_of(name)
        codes = codes if rows is None else codes[rows]
        counts = np.bincount(codes[codes >= 0], minlength=len(self._vocab[name]))
        values = list(self._vocab[name])
        return dict(Counter({values[code]: int(n) for code, n in enumerate(counts) if n}).most_common())

    def value_codes(self, name: str, values: list[str]) -> np.ndarray:
        """Per row, the position of its `name` value in `values` (-1: no value, or one not listed).

        From the integer codes kept for filtering, so no Python loop over the products.
        """
        codes = self._codes_of(name)
        lookup = {value: code for code, value in enumerate(values)}
        table = np.array([lookup.get(v, -1) for v in self._vocab[name]] + [-1], dtype=np.int64)
        return table[codes]  # code -1 (no value) reads the table's last slot

    def _codes_of(self, name: str) -> np.ndarray:
        if name not in self._codes:
            available = ", ".join(self._codes) or "none"
            raise RecommenderError(f"Unknown attribute {name!r}; this index has: {available}.")
        return self._codes[name]

    def check_compatible(self, model: ModelSpec, dim: int) -> None:
        """Refuse query vectors of another model: they would not be comparable with the stored ones."""
        ours = self.manifest.model
        if not (ours.compatible(model) and dim == self.dim):
            raise IncompatibleIndex(
                f"Index {self.path} was built with {ours.label} ({self.dim} dimensions) but the query uses "
                f"{model.label} ({dim} dimensions); rebuild the index or query with the same model."
            )

    # ---------------------------------------------------------------- filters

    def _rows_of(self, name: str, code: int) -> np.ndarray:
        """Sorted positions of the rows whose attribute `name` has value code `code`.

        Built per attribute on first use (one stable argsort), so a selective filter starts from its
        few rows instead of scanning every row's code; cold start stays free of this work.
        """
        if name not in self._postings:
            codes = self._codes[name]
            order = np.argsort(codes, kind="stable").astype(np.int64)
            counts = np.bincount(codes + 1, minlength=len(self._vocab[name]) + 1)  # slot 0: no value
            self._postings[name] = np.split(order, np.cumsum(counts)[:-1])[1:]
        return self._postings[name][code]

    def allowed(self, filters: Filters = None, exclude: Collection[str] = (),
                within: np.ndarray | None = None) -> np.ndarray | None:
        """Sorted positions of the rows a query may return, or None when every row may be returned.

        Filters AND across attributes and OR within one; an unknown value matches nothing, an empty
        list of values (nothing picked in a UI) leaves that attribute unconstrained. Starts from the
        attribute whose chosen values have the fewest rows, then keeps those rows whose other
        attributes pass a lookup table indexed by code: the cost follows the smallest selection.
        """
        wanted: dict[str, list[int]] = {}
        for name, values in (filters or {}).items():
            self._codes_of(name)  # an unknown attribute is an error, even with no values picked
            if values is None or len(values) == 0:  # an empty selection means "any value"
                continue
            vocab = self._vocab[name]
            picked = [values] if isinstance(values, str) else values
            wanted[name] = sorted({vocab[v] for v in picked if v in vocab})
        rows: np.ndarray | None = None
        if wanted:
            first = min(wanted, key=lambda name: sum(len(self._rows_of(name, c)) for c in wanted[name]))
            parts = [self._rows_of(first, c) for c in wanted[first]] or [np.empty(0, np.int64)]
            rows = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))  # postings are sorted
            for name, codes in wanted.items():
                if name != first:
                    table = np.zeros(len(self._vocab[name]) + 1, dtype=bool)  # last slot: code -1, no value
                    table[codes] = True
                    rows = rows[table[self._codes[name][rows]]]
        if within is not None:
            within = np.asarray(within, dtype=np.int64)
            rows = within if rows is None else rows[np.isin(rows, within, assume_unique=True)]
        positions = [self._position[i] for i in exclude if i in self._position]
        if positions:
            if rows is None:
                mask = np.ones(len(self), dtype=bool)
                mask[positions] = False
                rows = np.flatnonzero(mask)
            else:
                rows = rows[~np.isin(rows, positions)]
        return rows

    def matching(self, filters: Filters = None) -> np.ndarray:
        """Positions of the products passing the filters, in catalogue order (all when none)."""
        rows = self.allowed(filters)
        return np.arange(len(self)) if rows is None else rows

    # ---------------------------------------------------------------- search

    def _as_queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        q = q.reshape(1, -1) if q.ndim == 1 else q
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise IncompatibleIndex(f"The query vectors have {q.shape[-1]} dimensions but index {self.path} "
                                    f"has {self.dim}.")
        return np.ascontiguousarray(q)

    def select(self, filters: Filters = None, exclude: Collection[str] = (), within: np.ndarray | None = None,
               *, exact: bool = False) -> Selection:
        """The rows a search may return (`allowed`), resolved once and handed down as one value."""
        return Selection(len(self), self.allowed(filters, exclude, within), exact)

    def search(self, queries: np.ndarray, k: int = 10,
               selection: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest allowed rows of each query: (distances, positions), both (n, k), nearest first.

        Through the approximate index when the folder has one, unless the selection is exact (see the
        module notes); FAISS then scans only the selection's rows (its ID selector), and an exact pass
        over many allowed rows masks the others out, so nothing is over-fetched and thrown away.

        Distances are Euclidean (float64, recomputed exactly for the winners); when fewer than k rows
        are allowed, the rest of a row is padded with distance inf and position -1. Equal distances
        are ordered by position, so results are deterministic.
        """
        if k < 1:
            raise RecommenderError(f"k must be at least 1, not {k}.")
        q = self._as_queries(queries)
        selection = selection or Selection.everything(len(self))
        rows, n_rows = selection.rows, selection.size
        distances = np.full((len(q), k), np.inf)
        positions = np.full((len(q), k), -1, dtype=np.int64)
        if n_rows == 0 or len(q) == 0:
            return distances, positions
        if self.ann is not None and not selection.exact and n_rows > EXACT_ROWS and self.ann.scans(selection):
            return self._rerank(q, self.ann.candidates(q, k, selection), k)
        gather = rows is not None and n_rows < GATHER_FRACTION * len(self)
        matrix = self._matrix[rows] if gather else self._matrix
        norms = self._sq_norms[rows] if gather else self._sq_norms
        block = max(1, SCORE_BLOCK_CELLS // max(len(matrix), 1))
        kept = min(k, n_rows)
        for start in range(0, len(q), block):
            scores = q[start : start + block] @ matrix.T
            scores *= -2.0
            scores += norms
            if rows is not None and not gather:  # many rows allowed: one full pass, the others masked out
                np.copyto(scores, np.inf, where=~selection.mask)
            top = _top_k(scores, kept)
            found = rows[top] if gather else top
            exact = np.linalg.norm(self._matrix[found].astype(np.float64) - q[start : start + block, None], axis=2)
            order = np.lexsort((found, exact), axis=1)
            distances[start : start + block, :kept] = np.take_along_axis(exact, order, axis=1)
            positions[start : start + block, :kept] = np.take_along_axis(found, order, axis=1)
        return distances, positions

    def _rerank(self, q: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest of each query's candidate rows by exact distance (ties by position), padded."""
        distances = np.full((len(q), k), np.inf)
        positions = np.full((len(q), k), -1, dtype=np.int64)
        for i, row in enumerate(candidates):
            row = np.unique(row[row >= 0])
            if len(row):
                exact = np.linalg.norm(self._matrix[row].astype(np.float64) - q[i], axis=1)
                order = np.lexsort((row, exact))[:k]
                distances[i, : len(order)] = exact[order]
                positions[i, : len(order)] = row[order]
        return distances, positions

    def hits(self, query: np.ndarray, k: int = 10, selection: Selection | None = None) -> list[Hit]:
        """The k nearest products to one query vector among the selection's, nearest first."""
        distances, positions = self.search(query, k, selection)
        return self.to_hits(distances[0], positions[0])

    def to_hits(self, distances: np.ndarray, positions: np.ndarray, matches: np.ndarray | None = None) -> list[Hit]:
        """One query's (distances, positions[, matches]) row as records, padding dropped."""
        figures = [None] * len(positions) if matches is None else [None if m != m else m for m in matches.tolist()]
        return [
            Hit(rank=r, id=self.ids[p], distance=float(d), product=self.products[p], match=m)
            for r, (p, d, m) in enumerate(zip(positions.tolist(), distances.tolist(), figures), start=1)
            if p >= 0
        ]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column positions of the k smallest scores, in any order; ties at the k-th place
    keep the lowest positions, so results never depend on how argpartition breaks them."""
    if k >= scores.shape[1]:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    part = np.argpartition(scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).max(axis=1, keepdims=True)
    for i in np.flatnonzero((scores <= kth).sum(axis=1) > k):
        tied = np.flatnonzero(scores[i] <= kth[i])
        part[i] = tied[np.argsort(scores[i, tied], kind="stable")[:k]]
    return part
