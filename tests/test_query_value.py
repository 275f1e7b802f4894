"""Query: a query's vector and colours under their own names, stored and refined without slicing by hand."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.query_value import Query
from recommender.refine import rocchio


def test_vector_and_colours_keep_their_names_and_round_trip_through_a_store() -> None:
    query = Query(np.arange(4), np.array([0.5, 0.5, 0.0]))
    assert query.vector.dtype == np.float32 and query.vector.tolist() == [0, 1, 2, 3]
    assert query.colours.tolist() == [0.5, 0.5, 0.0] and len(query) == 7
    again = Query.from_array(query.to_array(), dim=4)
    assert again.vector.tolist() == query.vector.tolist() and again.colours.tolist() == query.colours.tolist()
    plain = Query.from_array(np.ones(4), dim=4)
    assert plain.colours is None and len(plain) == 4 and plain.to_array().tolist() == [1, 1, 1, 1]


def test_a_query_is_frozen() -> None:
    query = Query(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError):
        query.vector[0] = 1.0
    with pytest.raises(AttributeError):
        query.vector = np.ones(3)  # type: ignore[misc]


def test_refined_is_rocchio_on_each_part() -> None:
    query = Query([1.0, 0.0], [1.0, 0.0])
    liked = [Query([0.0, 1.0], [0.0, 1.0]), Query([0.0, 3.0], [0.0, 1.0])]
    disliked = [Query([1.0, 1.0], [1.0, 0.0])]
    moved = query.refined(liked, disliked)
    whole = rocchio(query.to_array(), np.stack([q.to_array() for q in liked]), np.stack([q.to_array() for q in disliked]))
    np.testing.assert_allclose(moved.to_array(), whole)  # the same as the old concatenated code's update
    assert Query([1.0, 2.0]).refined([], []).vector.tolist() == [1.0, 2.0]
    assert Query([1.0, 2.0]).refined([Query([3.0, 4.0])], []).colours is None
