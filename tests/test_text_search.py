"""Words in product names: TF-IDF ranking, prefixes, every word required, accents and case ignored."""

from __future__ import annotations

import numpy as np

from recommender.catalog import Product
from recommender.text_search import TextIndex

NAMES = ["Floral Print Kurta", "Blue Jeans", "Red floral dress", "Café Shirt", "Floral floral floral Top", ""]


def test_matching_needs_every_word_and_takes_prefixes() -> None:
    index = TextIndex(NAMES)
    assert index.matching("floral").tolist() == [0, 2, 4]
    assert index.matching("FLOR").tolist() == [0, 2, 4]
    assert index.matching("floral kurta").tolist() == [0]
    assert index.matching("cafe").tolist() == [3]  # accents ignored
    assert index.matching("zzz").tolist() == []
    assert index.matching("   ") is None and index.matching("!!") is None  # no words: no text search


def test_ranked_puts_the_rarer_and_more_frequent_words_first() -> None:
    index = TextIndex(NAMES)
    ranked = index.ranked("floral")
    assert set(ranked.tolist()) == {0, 2, 4} and ranked[0] == 4  # "floral" three times in a short name
    assert index.ranked("floral", rows=np.array([0, 1, 2])).tolist() == [0, 2]  # equal weights: by position
    assert index.ranked("").tolist() == []


def test_a_catalogue_without_names_searches_its_attribute_values() -> None:
    products = [Product("1", None, {"category": "Dress", "age": "Kids"}),
                Product("2", None, {"category": "Shoes", "age": "Adults"})]
    assert TextIndex.of_products(products, None).matching("kids").tolist() == [0]
    assert TextIndex.of_products(products, "name").matching("kids") is None  # names empty: nothing to search
    assert TextIndex([""]).matching("x") is None


def test_common_words_are_those_a_shopper_could_type() -> None:
    names = ["Black dress, kids", "Black shirt, adults", "Red dress, adults", "Blue dress, adults", "Black t 2",
             "Green coat, adults"]
    # "adults" is in more than half the names (narrows nothing); "t" and "2" are no words to suggest; ties by name
    assert TextIndex(names).common_words(3) == ["black", "dress", "blue"]
    assert TextIndex(["", " "]).common_words() == []
