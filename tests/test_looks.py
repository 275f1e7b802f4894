"""Shop the look: windows, grouping into garments, the development looks, their scoring, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.cli import main
from recommender.looks import WHOLE, Garment, LookSettings, Windows, garments_of, iou, window_boxes
from tests.test_train import tiny_index  # noqa: F401  (a module fixture: the tiny TFLite index of the demo catalogue)


def test_windows_start_with_the_whole_picture_and_cover_it_at_every_scale() -> None:
    settings = LookSettings()
    boxes = window_boxes(600, 800, settings)
    assert tuple(boxes[0]) == WHOLE
    assert (boxes >= 0).all() and (boxes <= 1).all() and len({tuple(b) for b in boxes}) == len(boxes)
    for scale in settings.scales:  # each scale is a grid of garment-shaped windows reaching every edge
        h = round(scale * 800 / 800, 4)
        w = round(scale * settings.aspect * 800 / 600, 4)
        grid = boxes[np.isclose(boxes[:, 3] - boxes[:, 1], h, atol=2e-4) & np.isclose(boxes[:, 2] - boxes[:, 0], w, atol=2e-4)]
        assert len(grid) >= 4
        assert grid[:, 0].min() == 0 and grid[:, 1].min() == 0
        assert np.isclose(grid[:, 2].max(), 1, atol=2e-4) and np.isclose(grid[:, 3].max(), 1, atol=2e-4)


def test_iou() -> None:
    a = np.array([[0, 0, 0.5, 0.5]])
    b = np.array([[0, 0, 0.5, 0.5], [0.25, 0, 0.75, 0.5], [0.5, 0.5, 1, 1]])
    np.testing.assert_allclose(iou(a, b), [[1.0, 1 / 3, 0.0]])


def windows(rows: list[tuple[tuple[float, float, float, float], str, float]]) -> Windows:
    """Windows as the head might have classified them; the first row is the whole picture."""
    return Windows(np.array([r[0] for r in rows]), [r[1] for r in rows], np.array([r[2] for r in rows]), np.zeros(3))


def test_windows_of_one_category_make_one_garment_with_their_weighted_box() -> None:
    look = windows([(WHOLE, "Tshirts", 0.6),
                    ((0.2, 0.1, 0.8, 0.5), "Tshirts", 0.9), ((0.3, 0.1, 0.9, 0.5), "Tshirts", 0.45),
                    ((0.25, 0.15, 0.85, 0.55), "Tshirts", 0.6),  # near the best: joins it
                    ((0.3, 0.5, 0.7, 0.9), "Jeans", 0.8), ((0.0, 0.85, 0.2, 1.0), "Jeans", 0.7),  # far: left out
                    ((0.7, 0.0, 1.0, 0.3), "Watches", 0.3)])  # too unsure
    garments = garments_of(look, LookSettings(min_confidence=0.5, group_iou=0.3))
    assert [g.category for g in garments] == ["Tshirts", "Jeans"]
    top, jeans = garments
    np.testing.assert_allclose(top.box, (np.array([0.2, 0.1, 0.8, 0.5]) * 0.9 + np.array([0.25, 0.15, 0.85, 0.55]) * 0.6)
                               / 1.5, atol=1e-4)
    assert top.confidence == 0.9 and jeans.box == (0.3, 0.5, 0.7, 0.9)


def test_a_garment_repeating_a_surer_one_is_dropped() -> None:
    look = windows([(WHOLE, "Dresses", 0.5), ((0.2, 0.1, 0.8, 0.6), "Tshirts", 0.9),
                    ((0.2, 0.15, 0.8, 0.6), "Tops", 0.7), ((0.3, 0.6, 0.7, 0.95), "Jeans", 0.8)])
    assert [g.category for g in garments_of(look, LookSettings(repeat_iou=0.5))] == ["Tshirts", "Jeans"]
    assert [g.category for g in garments_of(look, LookSettings(repeat_iou=0.95))] == ["Tshirts", "Jeans", "Tops"]


def test_a_product_shot_stays_one_garment_the_whole_picture() -> None:
    alone = windows([(WHOLE, "Shirts", 0.7), ((0.1, 0.1, 0.7, 0.7), "Shirts", 0.9), ((0.3, 0.3, 0.9, 0.9), "Shirts", 0.8)])
    assert garments_of(alone) == [Garment(WHOLE, "Shirts", 0.7)]
    # the surest garment is the picture's own kind and fills most of it: a shot with a bit of another garment
    shot = windows([(WHOLE, "Shirts", 0.7), ((0.0, 0.0, 0.9, 0.8), "Shirts", 0.9), ((0.2, 0.8, 0.8, 1.0), "Jeans", 0.6)])
    assert garments_of(shot, LookSettings(single_cover=0.5)) == [Garment(WHOLE, "Shirts", 0.7)]
    assert len(garments_of(shot, LookSettings(single_cover=0.9))) == 2
