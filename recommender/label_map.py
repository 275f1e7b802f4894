"""Which values of one catalogue count as the same kind of thing as a value of another.

A shopper's photo folder says "longsleeve"; the Kaggle catalogue says "Tshirts", "Sweatshirts",
"Shirts"... A label-map CSV ties them: its header names the query attribute and the index
attribute (`category,articleType`), and each row is one allowed pair. Training uses it to teach
photos and product shots of the same garment to land together, evaluation to score a photo's
results, and both must refuse a map naming values that do not exist rather than score nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from recommender.errors import RecommenderError

__all__ = ["LabelMap", "read_label_map"]


@dataclass(frozen=True)
class LabelMap:
    query_attribute: str  # e.g. "category" (the photo folders)
    index_attribute: str  # e.g. "articleType" (the catalogue)
    allowed: dict[str, frozenset[str]]  # query value -> the index values that count as the same kind
    path: str = ""

    def values_for(self, query_value: str | None) -> frozenset[str]:
        """The index values a query of this value may match (empty when the map does not name it)."""
        return self.allowed.get(query_value or "", frozenset())

    def query_value_of(self, index_value: str | None) -> str | None:
        """The query value that names an index value, the narrowest when several do (a Tshirts product is a
        "t-shirt", not a "longsleeve"); None when the map names none."""
        names = [q for q, values in self.allowed.items() if index_value in values]
        return min(names, key=lambda q: (len(self.allowed[q]), q)) if names else None

    def check(self, query_values: Collection[str], index_values: Collection[str]) -> str | None:
        """Values the map names that do not exist, one by one, as a sentence (None when all exist).

        Such a pair can never match, which a user must be told, but it does not spoil the others (the
        Kaggle map names Coats, which the small set lacks). A map of which no pair can match is refused.
        """
        problems = []
        unknown_queries = sorted(set(self.allowed) - set(query_values))
        if unknown_queries:
            problems.append(f"{self.query_attribute} value(s) not among the queries: {', '.join(unknown_queries)}")
        mapped = {v for values in self.allowed.values() for v in values}
        unknown_index = sorted(mapped - set(index_values))
        if unknown_index:
            problems.append(f"{self.index_attribute} value(s) not in the catalogue: {', '.join(unknown_index)}")
        usable = any(key in query_values and values & set(index_values) for key, values in self.allowed.items())
        if not usable:
            raise RecommenderError(f"No pair of the label map {self.path} names a value of both catalogues"
                                   + (f" ({'; '.join(problems)})." if problems else "."))
        return f"The label map {self.path} names values that do not exist: {'; '.join(problems)}." if problems else None


def read_label_map(path: str | Path) -> LabelMap:
    """Read a label-map CSV (header: query attribute, index attribute; one allowed pair per row)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecommenderError(f"The label map {path} cannot be read ({exc}).") from None
    if not rows or len(rows[0]) != 2 or not all(name.strip() for name in rows[0]):
        raise RecommenderError(f"The label map {path} must start with a header of two attribute names, "
                               "e.g. category,articleType.")
    allowed: dict[str, set[str]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise RecommenderError(f"Line {number} of the label map {path} is not one pair of values: {row!r}.")
        allowed.setdefault(row[0].strip(), set()).add(row[1].strip())
    if not allowed:
        raise RecommenderError(f"The label map {path} has no pairs of values under its header.")
    query_attribute, index_attribute = (name.strip() for name in rows[0])
    return LabelMap(query_attribute, index_attribute, {k: frozenset(v) for k, v in allowed.items()}, str(path))
