"""The numpy head: inference, its file and identity, and refusal of a head made for another backbone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from recommender.errors import IncompatibleIndex, IndexFormatError
from recommender.head import Head, HeadExtractor
from recommender.model_spec import ModelSpec
from recommender.vectors import unit_rows

SPEC = ModelSpec.parse("/models/backbone.tflite")


def random_head(seed: int = 0, input_dim: int = 8, colour_dim: int = 3, hidden: int = 16, dim: int = 4) -> Head:
    rng = np.random.default_rng(seed)
    return Head(
        hidden_kernel=rng.normal(size=(input_dim + colour_dim, hidden)).astype(np.float32),
        hidden_bias=rng.normal(size=hidden).astype(np.float32),
        embed_kernel=rng.normal(size=(hidden, dim)).astype(np.float32),
        embed_bias=rng.normal(size=dim).astype(np.float32),
        prototypes={"articleType": rng.normal(size=(3, dim)).astype(np.float32),
                    "gender": rng.normal(size=(2, dim)).astype(np.float32)},
        attributes={"articleType": ["Dresses", "Shirts", "Tshirts"], "gender": ["Men", "Women"]},
        input_dim=input_dim, colour_dim=colour_dim, backbone=SPEC, catalog_fingerprint="abc", colour_scale=0.5,
    )


def test_embed_by_hand() -> None:
    head = random_head()
    rng = np.random.default_rng(1)
    raw, colours = unit_rows(rng.normal(size=(5, 8))), rng.dirichlet(np.ones(3), size=5)
    x = np.concatenate([raw, 0.5 * np.sqrt(colours)], axis=1)
    expected = np.maximum(x @ head.hidden_kernel + head.hidden_bias, 0) @ head.embed_kernel + head.embed_bias
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(head.embed(raw, colours), expected, atol=1e-5)
    probabilities = head.classify(expected)
    assert probabilities["articleType"].shape == (5, 3) and probabilities["gender"].shape == (5, 2)
    np.testing.assert_allclose(probabilities["gender"].sum(axis=1), 1.0, atol=1e-6)
    cos = expected @ unit_rows(head.prototypes["gender"]).T
    logits = 16 * cos
    np.testing.assert_allclose(probabilities["gender"],
                               np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), atol=1e-5)


def test_round_trip_keeps_weights_and_identity() -> None:
    head = random_head()
    again = Head.from_bytes(head.to_bytes())
    assert again.id == head.id and len(head.id) == 16
    assert again.attributes == head.attributes and again.backbone == SPEC and again.catalog_fingerprint == "abc"
    raw = unit_rows(np.random.default_rng(2).normal(size=(4, 8)))
    colours = np.full((4, 3), 1 / 3)
    np.testing.assert_array_equal(again.embed(raw, colours), head.embed(raw, colours))
    assert random_head(seed=1).id != head.id


def test_corrupt_bytes_are_one_sentence() -> None:
    data = random_head().to_bytes()
    for broken in (b"", data[: len(data) // 2], b"not a zip file at all"):
        with pytest.raises(IndexFormatError, match="corrupt"):
            Head.from_bytes(broken)


def test_extractor_applies_backbone_then_head_and_refuses_another_backbone() -> None:
    head = random_head(colour_dim=0)
    rng = np.random.default_rng(3)
    table = rng.normal(size=(2, 8)).astype(np.float32)

    base = SimpleNamespace(spec=SPEC, input_size=(4, 4), dim=8, embed=lambda batch: table[: len(batch)])
    extractor = HeadExtractor(base, head)
    assert extractor.spec.head == head.id and extractor.dim == head.dim and extractor.input_size == (4, 4)
    np.testing.assert_allclose(extractor.embed(np.zeros((2, 4, 4, 3), np.uint8)), head.embed(unit_rows(table)))

    other_dim = SimpleNamespace(spec=SPEC, input_size=(4, 4), dim=12, embed=None)
    with pytest.raises(IncompatibleIndex, match="trained on"):
        HeadExtractor(other_dim, head)
    other_model = SimpleNamespace(spec=ModelSpec.parse("/models/other.tflite"), input_size=(4, 4), dim=8, embed=None)
    with pytest.raises(IncompatibleIndex, match="trained on"):
        HeadExtractor(other_model, head)
    with pytest.raises(IncompatibleIndex, match="another backbone"):
        head.embed(np.ones((1, 12), np.float32))
