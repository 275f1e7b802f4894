"""The label map: parsing, and refusing values that do not exist, one by one."""

from __future__ import annotations

import pytest

from recommender.errors import RecommenderError
from recommender.label_map import read_label_map


def test_reads_pairs_into_allowed_sets(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("category,articleType\ndress,Dresses\nlongsleeve,Tshirts\nlongsleeve,Sweatshirts\n\n")
    label_map = read_label_map(path)
    assert (label_map.query_attribute, label_map.index_attribute) == ("category", "articleType")
    assert label_map.values_for("longsleeve") == {"Tshirts", "Sweatshirts"}
    assert label_map.values_for("hat") == frozenset()
    assert label_map.check(["dress", "longsleeve", "hat"], ["Dresses", "Tshirts", "Sweatshirts", "Caps"]) is None


def test_unknown_values_are_named_and_a_map_with_no_usable_pair_refused(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("category,articleType\ndress,Dresses\nskirt,Skirtz\n")
    warning = read_label_map(path).check(["dress"], ["Dresses", "Skirts"])
    assert "not among the queries: skirt" in warning and "not in the catalogue: Skirtz" in warning
    with pytest.raises(RecommenderError, match="No pair of the label map .* names a value of both"):
        read_label_map(path).check(["skirt"], ["Dresses", "Skirts"])


@pytest.mark.parametrize("text", ["", "category\ndress\n", "category,articleType\n", "a,b\ndress,Dresses,x\n"])
def test_malformed_maps_get_a_sentence(tmp_path, text):
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(RecommenderError, match="label map"):
        read_label_map(path)
