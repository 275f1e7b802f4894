"""Which catalogue attribute plays which part: gender, colour, category, age group, product name.

Catalogues name their columns differently (Kaggle: `articleType`, `baseColour`,
`productDisplayName`; a folder catalogue: `category`; a shop's CSV: `colour`, `name`). The filters,
the tags, the feedback page, the CLI table and evaluation all ask this one module, so they agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

__all__ = ["ROLE_ATTRIBUTES", "FILTER_ROLES", "ROLE_LABELS", "Roles"]

# Each role and the attributes that can play it, first found wins: the finest category comes first.
ROLE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "gender": ("gender",),
    "colour": ("baseColour", "colour", "color"),
    "category": ("articleType", "category", "subCategory", "masterCategory"),
    "age": ("age", "ageGroup"),
    "name": ("productDisplayName", "name"),
}
# The roles a shopper filters and is tagged by, in the page's order. Age is a role of its own only where a
# catalogue labels it (the demo's Adults/Kids): Kaggle's gender values Boys and Girls already carry age, and
# an "age" filter there would repeat the gender filter, so its gender is not mapped to the age role.
FILTER_ROLES = ("gender", "colour", "category", "age")
ROLE_LABELS = {"gender": "Gender", "colour": "Colour", "category": "Category", "age": "Age", "name": "Name"}


@dataclass(frozen=True)
class Roles:
    """Role -> the attribute that plays it in one catalogue (None: the catalogue has none)."""

    gender: str | None = None
    colour: str | None = None
    category: str | None = None
    age: str | None = None
    name: str | None = None

    @classmethod
    def of(cls, attributes: Collection[str]) -> "Roles":
        """The roles found among a catalogue's attribute names, whatever their case (a shop's "Category" column plays
        the category role as "category" does), each kept as the catalogue spells it."""
        present = {a.lower(): a for a in sorted(attributes)}  # two spellings ("Category", "category"): the lower
        return cls(**{role: next((present[a.lower()] for a in names if a.lower() in present), None)
                      for role, names in ROLE_ATTRIBUTES.items()})

    def attribute(self, role: str) -> str | None:
        if role not in ROLE_ATTRIBUTES:
            raise KeyError(f"unknown role {role!r}")
        return getattr(self, role)

    def filters(self) -> Iterator[tuple[str, str | None]]:
        """(role, attribute) for the shopper's filters, in the page's order."""
        return ((role, self.attribute(role)) for role in FILTER_ROLES)

    def role_of(self, attribute: str) -> str | None:
        """The role an attribute plays here, if any."""
        return next((role for role in ROLE_ATTRIBUTES if self.attribute(role) == attribute), None)

    def label(self, attribute: str) -> str:
        """The page's word for an attribute: "Category" for articleType, else the attribute itself."""
        role = self.role_of(attribute)
        return ROLE_LABELS[role] if role else attribute
