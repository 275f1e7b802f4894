"""Attribute filters as people write them: `KEY=VALUE` items (the CLI, the API) and their notes.

Filters are a dict attribute -> values: several values of one attribute mean OR, different
attributes AND (see `recommender.index.Index.allowed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from recommender.errors import RecommenderError
from recommender.index import Index

__all__ = ["parse_filter_items", "unknown_values"]

SHOWN_VALUES = 12  # values listed when a filter names one the index does not hold


def parse_filter_items(items: Iterable[str]) -> dict[str, list[str]]:
    """["gender=Women", "gender=Unisex", "baseColour=Blue"] -> {"gender": ["Women", "Unisex"], ...}."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RecommenderError(f"Bad filter {item!r}: write KEY=VALUE, e.g. gender=Women.")
        filters.setdefault(key.strip(), []).append(value.strip())
    return filters


def unknown_values(index: Index, filters: Mapping[str, Sequence[str]]) -> list[str]:
    """One note per filter value that no product has (a typo such as gender=women matches nothing).

    Such a filter is not an error (the answer "no match" is right), but saying why saves a puzzled
    user. An unknown attribute is an error (RecommenderError), as the search itself says.
    """
    notes = []
    for name, values in filters.items():
        known = index.attribute_values(name)
        for value in values:
            if value not in known:
                listed = ", ".join(list(known)[:SHOWN_VALUES]) + (", ..." if len(known) > SHOWN_VALUES else "")
                notes.append(f"note: no product has {name} {value!r}; the values of {name} are: {listed}.")
    return notes
