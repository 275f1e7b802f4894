"""Set relevance (label maps), tag accuracy and hubness against hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.evaluation.hubness import hubness
from recommender.evaluation.metrics import allowed_matrix, relevance, score_attribute, tag_accuracy

# Photos labelled by folder, scored against catalogue article types through a map. "Hat" is named
# by the map but absent from the catalogue; "scarf" is not named at all.
MAP = {"long": frozenset({"Tshirts", "Shirts"}), "dress": frozenset({"Dresses"}), "hat": frozenset({"Caps", "Hat"})}
BASE = ["Tshirts", "Shirts", "Dresses", "Caps", None]
QUERIES = ["long", "dress", "hat", "scarf", None]
# k = 2; -1 is padding (fewer results than asked)
FOUND = np.array([[0, 2], [2, -1], [4, 1], [0, 1], [0, 1]])


def test_allowed_matrix_by_map_and_by_equality() -> None:
    matrix = allowed_matrix(["dress", "hat", "long"], ["Caps", "Dresses", "Shirts", "Tshirts"], MAP)
    assert matrix.astype(int).tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]]
    assert allowed_matrix(["a", "b"], ["b", "c"]).astype(int).tolist() == [[0, 0], [1, 0]]


def test_set_relevance_hand_computed() -> None:
    # query codes over (dress, hat, long), base codes over (Caps, Dresses, Shirts, Tshirts)
    matrix = allowed_matrix(["dress", "hat", "long"], ["Caps", "Dresses", "Shirts", "Tshirts"], MAP)
    base_codes = np.array([3, 2, 1, 0, -1])
    relevant = relevance(FOUND[:3], np.array([2, 0, 1]), base_codes, matrix)
    # long: Tshirts yes, Dresses no; dress: Dresses yes, padding no; hat: unlabelled no, Shirts no
    assert relevant.astype(int).tolist() == [[1, 0], [1, 0], [0, 0]]


def test_score_attribute_through_a_label_map_hand_computed() -> None:
    scores = score_attribute("category -> articleType", FOUND, QUERIES, BASE, [1, 2], leave_one_out=False,
                             allowed=MAP)
    assert scores.queries == 3 and scores.values == 3 and scores.unscored == {"scarf": 1}
    # relevant: long [1 0], dress [1 0], hat [0 0]
    assert scores.precision == pytest.approx({1: 2 / 3, 2: 1 / 3})
    # R: long 2 (Tshirts, Shirts), dress 1, hat 1 (Caps); AP@2: 1/min(2,2), 1/min(2,1), 0
    assert scores.map[2] == pytest.approx((1 / 2 + 1 + 0) / 3)
    # chance over the 5 base items: long 2/5, dress 1/5, hat 1/5
    assert scores.chance == pytest.approx((2 / 5 + 1 / 5 + 1 / 5) / 3)
    by_value = {v.value: v.precision[2] for v in scores.per_value}
    assert by_value == pytest.approx({"long": 1 / 2, "dress": 1 / 2, "hat": 0.0})
    assert scores.per_value[0].value == "hat"  # worst first
    assert scores.macro_precision[2] == pytest.approx(1 / 3)


def test_a_map_value_with_nothing_in_the_index_is_not_scored() -> None:
    scores = score_attribute("c", FOUND, QUERIES, BASE, [1], leave_one_out=False,
                             allowed={**MAP, "hat": frozenset({"Hat"})})
    assert scores.queries == 2 and scores.unscored == {"hat": 1, "scarf": 1}


def test_identity_map_scores_as_equality() -> None:
    labels = ["a", "b", "a", "b"]
    found = np.array([[2, 1], [3, 0], [1, 0], [1, 0]])  # relevant: 1 0, 1 0, 0 1, 1 0
    plain = score_attribute("x", found, labels, labels, [1, 2], leave_one_out=True)
    mapped = score_attribute("x", found, labels, labels, [1, 2], leave_one_out=True,
                             allowed={"a": {"a"}, "b": {"b"}})
    assert plain.precision == mapped.precision == pytest.approx({1: 3 / 4, 2: 1 / 2})
    assert plain.chance == pytest.approx(mapped.chance) == pytest.approx(1 / 3)


def test_tag_accuracy_hand_computed() -> None:
    predicted = ["Shirts", "Tshirts", None, "Caps", "Dresses"]
    scores = tag_accuracy("category", "articleType", predicted, QUERIES, MAP)
    # long: Shirts right; dress: Tshirts wrong; hat: no tag, wrong; scarf and unlabelled: not judged
    assert scores.queries == 3 and scores.accuracy == pytest.approx(1 / 3)
    assert {v.value: v.accuracy for v in scores.per_value} == {"long": 1.0, "dress": 0.0, "hat": 0.0}
    same = tag_accuracy("gender", "gender", ["Men", "Women", "Men", "Men"], ["Men", "Men", None, "Men"])
    assert same.queries == 3 and same.accuracy == pytest.approx(2 / 3) and same.macro_accuracy == pytest.approx(2 / 3)


def test_hubness_hand_computed() -> None:
    found = np.array([[0, 1, 2], [0, 1, -1], [0, 3, 1], [4, 3, 0]])
    genders = ["Men", "Boys", "Men", "Women", None, "Boys"]
    ids = ["a", "b", "c", "d", "e", "f"]
    h = hubness(found, ids, 3, labels=[f"item {i}" for i in ids], attribute="gender", values=genders, frequent=3)
    assert (h.queries, h.slots, h.distinct) == (4, 11, 5)
    assert h.distinct_share == pytest.approx(5 / 11)
    # a is in all 4 top 3s, b in 3, d in 2
    assert [(f.id, f.queries, f.share) for f in h.frequent] == [("a", 4, 1.0), ("b", 3, 0.75), ("d", 2, 0.5)]
    assert h.max_share == 1.0 and h.over_target == 5  # every returned product is above 5 % of 4 queries
    # labelled result slots: a Men x4, b Boys x3, c Men, d Women x2 (e unlabelled) -> 10
    assert {s.value: s.results for s in h.shares} == pytest.approx({"Men": 5 / 10, "Boys": 3 / 10, "Women": 2 / 10})
    assert {s.value: s.catalogue for s in h.shares} == pytest.approx({"Men": 2 / 5, "Boys": 2 / 5, "Women": 1 / 5})
    assert h.shares[0].value == "Men"  # most over-represented first
    assert hubness(found, ids, 1).distinct == 2 and hubness(found, ids, 1).shares == []
