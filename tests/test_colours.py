"""Kaggle baseColour names as CSS colours."""

from __future__ import annotations

import csv
import re

from recommender.colours import BASE_COLOURS, colour_hex
from tests.conftest import SHARED_FASHION, require


def test_every_colour_is_a_css_hex_and_lookup_is_forgiving() -> None:
    assert len(BASE_COLOURS) == 47
    assert all(re.fullmatch(r"#[0-9a-f]{6}", code) for code in BASE_COLOURS.values())
    assert colour_hex("Navy Blue") == "#1f2a44"
    assert colour_hex("  navy blue ") == "#1f2a44"
    assert colour_hex("Ultraviolet") is None
    assert colour_hex("") is None and colour_hex(None) is None
    assert colour_hex("Black") != colour_hex("White")


def test_names_match_the_real_kaggle_values() -> None:
    styles = require(SHARED_FASHION / "styles.csv")
    with styles.open(newline="", encoding="utf-8") as handle:
        names = {row["baseColour"] for row in csv.DictReader(handle)} - {""}
    assert names == BASE_COLOURS.keys()


def test_every_colour_has_one_family() -> None:
    from recommender.colours import COLOUR_FAMILIES, colour_family

    members = [name for names in COLOUR_FAMILIES.values() for name in names]
    assert sorted(members) == sorted(BASE_COLOURS)  # each name once
    assert colour_family("Navy Blue") == "Blue" and colour_family("Cream") == "White"
    assert colour_family("Charcoal") == "Black" and colour_family("Rust") == "Red"
