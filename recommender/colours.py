"""Kaggle `baseColour` names as CSS colours, so swatches and the demo catalogue draw what the data says.

The values are the 47 `baseColour` names of the Kaggle Fashion Product Images set. The hex codes
are picked to look like the garments in its photos (e.g. "Beige" darker than CSS beige, "Lavender"
more saturated), not copied from CSS names. "Multi" and "NA" have no single colour: both get a
neutral grey so a swatch still renders.
"""

from __future__ import annotations

__all__ = ["BASE_COLOURS", "COLOUR_FAMILIES", "colour_hex", "colour_family"]

BASE_COLOURS: dict[str, str] = {
    "Beige": "#d9c8a9",
    "Black": "#161616",
    "Blue": "#1f5fbf",
    "Bronze": "#cd7f32",
    "Brown": "#6b4226",
    "Burgundy": "#800020",
    "Charcoal": "#36454f",
    "Coffee Brown": "#4b3621",
    "Copper": "#b87333",
    "Cream": "#f3e9c6",
    "Fluorescent Green": "#39ff14",
    "Gold": "#d4af37",
    "Green": "#2e7d32",
    "Grey": "#8c8c8c",
    "Grey Melange": "#b4b4b4",
    "Khaki": "#c3b091",
    "Lavender": "#b9a3e3",
    "Lime Green": "#32cd32",
    "Magenta": "#d0107a",
    "Maroon": "#7b1420",
    "Mauve": "#b784a7",
    "Metallic": "#8a9597",
    "Multi": "#9e9e9e",
    "Mushroom Brown": "#a08679",
    "Mustard": "#e1ad01",
    "NA": "#9e9e9e",
    "Navy Blue": "#1f2a44",
    "Nude": "#e3bc9a",
    "Off White": "#f4f1e8",
    "Olive": "#6b7a2a",
    "Orange": "#f57c00",
    "Peach": "#ffcba4",
    "Pink": "#f48fb1",
    "Purple": "#6a1b9a",
    "Red": "#c62828",
    "Rose": "#d8737f",
    "Rust": "#b7410e",
    "Sea Green": "#2e8b57",
    "Silver": "#c0c0c0",
    "Skin": "#e0ac8a",
    "Steel": "#71797e",
    "Tan": "#d2b48c",
    "Taupe": "#8b7d70",
    "Teal": "#008080",
    "Turquoise Blue": "#00a5b5",
    "White": "#fafafa",
    "Yellow": "#fdd835",
}

# A coarser word for each name, as a shopper would say it: "Navy Blue" and "Teal" are blue, "Cream" white.
COLOUR_FAMILIES: dict[str, tuple[str, ...]] = {
    "Black": ("Black", "Charcoal"),
    "White": ("White", "Off White", "Cream"),
    "Grey": ("Grey", "Grey Melange", "Silver", "Steel", "Metallic"),
    "Brown": ("Brown", "Coffee Brown", "Mushroom Brown", "Taupe", "Tan", "Khaki", "Beige", "Nude", "Skin", "Bronze"),
    "Red": ("Red", "Maroon", "Burgundy", "Rust"),
    "Pink": ("Pink", "Rose", "Magenta", "Peach", "Mauve"),
    "Purple": ("Purple", "Lavender"),
    "Blue": ("Blue", "Navy Blue", "Turquoise Blue", "Teal"),
    "Green": ("Green", "Olive", "Sea Green", "Lime Green", "Fluorescent Green"),
    "Yellow": ("Yellow", "Mustard", "Gold"),
    "Orange": ("Orange", "Copper"),
    "Multi": ("Multi", "NA"),
}
_FAMILY = {name: family for family, names in COLOUR_FAMILIES.items() for name in names}

_BY_LOWER = {name.lower(): hex_code for name, hex_code in BASE_COLOURS.items()}


def colour_hex(name: str | None) -> str | None:
    """CSS hex of a `baseColour` name (case and surrounding spaces ignored); None when unknown."""
    if not name:
        return None
    return _BY_LOWER.get(name.strip().lower())


def colour_family(name: str) -> str:
    """The family of a colour table name ("Navy Blue" -> "Blue"); KeyError for a name outside the table."""
    return _FAMILY[name]
