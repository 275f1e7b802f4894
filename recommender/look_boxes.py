"""Box arithmetic for shop the look: boxes are (left, top, right, bottom) fractions of a photo's sides.

Kept apart from `recommender.looks`, which decides what the boxes are, so that the evaluation (IoU against
known boxes) and the looks share one definition.
"""

from __future__ import annotations

import numpy as np

__all__ = ["iou", "tight_mean", "shrunk", "smallest", "area", "no_taller_than_wide"]

BoxTuple = tuple[float, float, float, float]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes a (n, 4) against b (m, 4): (n, m)."""
    a, b = np.atleast_2d(a)[:, None, :], np.atleast_2d(b)[None, :, :]
    inter = (np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
             * np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None))
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def tight_mean(boxes: np.ndarray) -> np.ndarray:
    """The mean of (n, 4) boxes weighted by 1 / area: the head is as sure of a window framing a garment
    with margins as of one framing it tightly (its probabilities saturate), so the smaller ones say more."""
    weights = 1.0 / np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-9)
    return (boxes * weights[:, None]).sum(axis=0) / weights.sum()


def shrunk(box: np.ndarray, factor: float) -> BoxTuple:
    """The box scaled by `factor` about its centre, inside the photo, rounded as garments' boxes are."""
    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) * factor / 2
    return tuple(float(round(v, 4)) for v in np.clip(np.concatenate([centre - half, centre + half]), 0.0, 1.0))


def no_taller_than_wide(box: BoxTuple, aspect: float) -> BoxTuple:
    """The box cut about its centre to at most as tall as wide in pixels (`aspect`: the photo's width / height).

    For shoes: a pair side by side, or a shoe seen side-on, is wider than tall, but the windows that find it
    stand upright (3 wide for 4 high) and hold the floor or the legs above and below it."""
    half = min(box[3] - box[1], (box[2] - box[0]) * aspect) / 2
    centre = (box[1] + box[3]) / 2
    return box[0], float(round(centre - half, 4)), box[2], float(round(centre + half, 4))


def smallest(boxes: np.ndarray) -> np.ndarray:
    """Which windows (after the whole photo, row 0) are of the smallest scale."""
    heights = boxes[:, 3] - boxes[:, 1]
    fine = np.isclose(heights, heights[1:].min(), atol=1e-3) if len(boxes) > 1 else np.zeros(len(boxes), bool)
    fine[0] = False
    return fine


def area(box: BoxTuple) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])
