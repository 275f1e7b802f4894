"""Exact Euclidean nearest neighbours over an index folder written by `recommender.embeddings`.

Ranking uses ||x||^2 - 2 x.q (the query's own norm is the same for every row): squared norms
are computed once at load, so a query is one float32 matrix-vector product (BLAS sgemv) over
the memory-mapped vectors plus an O(n) top-k selection; the k winners' distances are then
recomputed exactly. Attribute filters are integer codes
per attribute with row lists per value, so a filter costs what its smallest selection costs,
never a Python loop over products.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.catalog import Product
from recommender.errors import IncompatibleIndex, IndexFormatError, RecommenderError

if TYPE_CHECKING:  # the backbones module imports TensorFlow; searching an index must not
    from recommender.backbones import Extractor

__all__ = ["Hit", "Index", "same_backbone"]

NORM_BLOCK_ROWS = 8192  # rows per block when computing norms: bounded extra memory
GATHER_FRACTION = 0.1  # filters keeping fewer rows gather them; more: one full pass (measured crossover)


@dataclass(frozen=True)
class Hit:
    rank: int  # 1-based
    id: str
    distance: float  # Euclidean, not squared
    product: Product


def same_backbone(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two (backbone, weights) pairs give comparable vectors.

    A TFLite model is a file that carries its own weights: the same file name counts, so an
    index moved to another machine (model in another folder) still opens.
    """
    if a[0].lower().endswith(".tflite") and b[0].lower().endswith(".tflite"):
        return Path(a[0]).name == Path(b[0]).name and Path(a[1]).name == Path(b[1]).name
    return a == b


class Index:
    """A loaded index: ids, products and vectors in the same order, plus what the search needs."""

    def __init__(self, path: Path, manifest: dict[str, Any], ids: list[str], products: list[Product],
                 vectors: np.ndarray) -> None:
        self.path = path
        self.manifest = manifest
        self.ids = ids
        self.products = products
        self.vectors = vectors
        self._matrix = np.asarray(vectors)  # plain ndarray view of the memmap, for BLAS
        self._position = {product_id: i for i, product_id in enumerate(ids)}
        self._sq_norms = np.empty(len(ids), dtype=np.float32)
        for start in range(0, len(ids), NORM_BLOCK_ROWS):
            block = self._matrix[start : start + NORM_BLOCK_ROWS]
            np.einsum("ij,ij->i", block, block, out=self._sq_norms[start : start + NORM_BLOCK_ROWS])
        self._codes: dict[str, np.ndarray] = {}
        self._postings: dict[str, list[np.ndarray]] = {}
        self._vocab: dict[str, dict[str, int]] = {}
        for name in dict.fromkeys(key for p in products for key in p.attributes):
            vocab = self._vocab[name] = {}
            self._codes[name] = np.fromiter(
                (vocab.setdefault(p.attributes[name], len(vocab)) if name in p.attributes else -1
                 for p in products),
                dtype=np.int32,
                count=len(products),
            )

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True) -> "Index":
        """Open an index folder, checking that its files agree with its manifest."""
        path = Path(path)
        rebuild = f"rebuild it with python -m recommender build --catalog DIR --out {path}"
        if not path.is_dir():
            raise IndexFormatError(f"There is no index at {path}; build one with python -m recommender build "
                                   f"--catalog DIR --out {path}.")
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            if (path / ".build").exists():
                raise IndexFormatError(f"The index build in {path} has not finished; rerun the build command "
                                       "to resume it.")
            raise IndexFormatError(f"{path} is not an index (no manifest.json); {rebuild}.")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            count, dim = int(manifest["count"]), int(manifest["dim"])
            version = manifest["format_version"]
            for key in ("backbone", "weights"):
                manifest[key]  # noqa: B018 - presence check
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"The manifest of index {path} is unreadable ({exc}); {rebuild}.") from None
        if version != 1:
            raise IndexFormatError(f"Index {path} has format version {version}, this program reads 1; {rebuild}.")

        def corrupt(detail: str) -> IndexFormatError:
            return IndexFormatError(f"Index {path} is incomplete or corrupt: {detail}; {rebuild}.")

        try:
            vectors = np.load(path / "vectors.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise corrupt(f"vectors.npy cannot be read ({exc})") from None
        if vectors.shape != (count, dim):
            raise corrupt(f"manifest says {count} vectors of {dim} dimensions but vectors.npy has shape "
                          f"{tuple(vectors.shape)}")
        if vectors.dtype != np.float32:
            raise corrupt(f"vectors.npy holds {vectors.dtype}, not float32")
        try:
            ids = json.loads((path / "ids.json").read_text(encoding="utf-8"))
            lines = (path / "products.jsonl").read_text(encoding="utf-8").splitlines()
            products = [cls._product(json.loads(line)) for line in lines if line.strip()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: not objects
            raise corrupt(f"ids.json or products.jsonl cannot be read ({exc})") from None
        if not isinstance(ids, list):
            raise corrupt("ids.json does not hold a list of ids")
        if len(ids) != count:
            raise corrupt(f"manifest says {count} vectors but ids.json has {len(ids)} ids")
        if len(products) != count:
            raise corrupt(f"manifest says {count} vectors but products.jsonl has {len(products)} products")
        if [p.id for p in products] != ids:
            raise corrupt("ids.json and products.jsonl list different products")
        if len(set(ids)) != count:
            raise corrupt("ids.json has duplicate ids")
        return cls(path, manifest, ids, products, vectors)

    @staticmethod
    def _product(record: dict[str, Any]) -> Product:
        attributes = {str(k): str(v) for k, v in record["attributes"].items()}
        return Product(id=str(record["id"]), image=Path(record["image"]), attributes=attributes)

    # ---------------------------------------------------------------- lookup

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def product(self, product_id: str) -> Product:
        """The product with this id (KeyError if the index does not hold it)."""
        return self.products[self._position[product_id]]

    def vector(self, product_id: str) -> np.ndarray:
        """A copy of the stored embedding of this product (KeyError if unknown)."""
        return np.array(self._matrix[self._position[product_id]])

    def attributes(self) -> list[str]:
        """Attribute names that can be filtered on, in catalogue column order."""
        return list(self._codes)

    def attribute_values(self, name: str) -> dict[str, int]:
        """Value -> number of products, most common first."""
        codes = self._codes_of(name)
        counts = np.bincount(codes[codes >= 0], minlength=len(self._vocab[name]))
        values = list(self._vocab[name])
        return dict(Counter({values[code]: int(n) for code, n in enumerate(counts)}).most_common())

    def _codes_of(self, name: str) -> np.ndarray:
        if name not in self._codes:
            available = ", ".join(self._codes) or "none"
            raise RecommenderError(f"Unknown attribute {name!r}; this index has: {available}.")
        return self._codes[name]

    # ---------------------------------------------------------------- search

    def check_compatible(self, extractor: Extractor) -> None:
        """Refuse an extractor whose vectors would not be comparable with the stored ones."""
        ours = (self.manifest["backbone"], self.manifest["weights"], self.dim)
        theirs = (extractor.name, extractor.weights, extractor.dim)
        if not (same_backbone(ours[:2], theirs[:2]) and ours[2] == theirs[2]):
            raise IncompatibleIndex(
                f"Index {self.path} was built with backbone {ours[0]} (weights {ours[1]}, {ours[2]} dimensions) "
                f"but the query uses {theirs[0]} (weights {theirs[1]}, {theirs[2]} dimensions); rebuild the "
                "index or query with the same backbone."
            )

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

    def _allowed(self, filters: Mapping[str, Collection[str]] | None, exclude: Collection[str]) -> np.ndarray | None:
        """Sorted positions of the rows a query may return, or None when every row may be returned.

        Starts from the attribute whose chosen values have the fewest rows, then keeps those rows whose
        other attributes pass a lookup table indexed by code: the cost follows the smallest selection,
        not the catalogue size.
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
            rows = np.sort(np.concatenate([self._rows_of(first, c) for c in wanted[first]] or [np.empty(0, np.int64)]))
            for name, codes in wanted.items():
                if name != first:
                    table = np.zeros(len(self._vocab[name]) + 1, dtype=bool)  # last slot: code -1, no value
                    table[codes] = True
                    rows = rows[table[self._codes[name][rows]]]
        positions = [self._position[i] for i in exclude if i in self._position]
        if positions:
            if rows is None:
                mask = np.ones(len(self), dtype=bool)
                mask[positions] = False
                rows = np.flatnonzero(mask)
            else:
                rows = rows[~np.isin(rows, positions)]
        return rows

    def matching(self, filters: Mapping[str, Collection[str]] | None = None) -> np.ndarray:
        """Positions of the products passing the filters, in catalogue order (all when none)."""
        rows = self._allowed(filters, ())
        return np.arange(len(self)) if rows is None else rows

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        filters: Mapping[str, Collection[str]] | None = None,
        exclude: Collection[str] = (),
    ) -> list[Hit]:
        """The k nearest products to `query` among those passing every filter, nearest first.

        Filters AND across attributes and OR within one; an unknown value matches nothing, an empty
        list of values (nothing picked in a UI) leaves that attribute unconstrained.
        Equal distances are ordered by index position, so results are deterministic.
        """
        if k < 1:
            raise RecommenderError(f"k must be at least 1, not {k}.")
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise IncompatibleIndex(f"The query vector has {q.shape[0]} dimensions but index {self.path} "
                                    f"has {self.dim}.")
        rows = self._allowed(filters, exclude)
        if rows is None:
            scores = self._scores(q)
        else:
            if len(rows) == 0:
                return []
            if len(rows) < GATHER_FRACTION * len(self):
                scores = self._scores(q, rows)
            else:  # many rows allowed: one full streaming pass beats copying them out first
                scores = self._scores(q)[rows]
        top = _top_k(scores, k)
        positions = top if rows is None else rows[top]
        # The float32 expansion ||x||^2 - 2x.q + ||q||^2 loses digits when x is close to q (an identical
        # image would show 0.016, not 0): recompute the k winners' distances directly, in float64.
        distances = np.linalg.norm(self._matrix[positions].astype(np.float64) - q, axis=1)
        order = np.lexsort((positions, distances))
        positions, distances = positions[order], distances[order]
        return [
            Hit(rank=r, id=self.ids[p], distance=float(d), product=self.products[p])
            for r, (p, d) in enumerate(zip(positions.tolist(), distances.tolist()), start=1)
        ]

    def _scores(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """||x||^2 - 2 x.q for the given rows (all when None), without extra full-size temporaries."""
        if rows is None:
            scores = self._matrix @ q
            norms = self._sq_norms
        else:
            scores = self._matrix[rows] @ q
            norms = self._sq_norms[rows]
        scores *= -2.0
        scores += norms
        return scores


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest scores, ascending, ties by position."""
    if k >= len(scores):
        return np.argsort(scores, kind="stable")
    kth = np.partition(scores, k - 1)[k - 1]
    candidates = np.flatnonzero(scores <= kth)  # every row tied with the k-th, in position order
    return candidates[np.argsort(scores[candidates], kind="stable")[:k]]
