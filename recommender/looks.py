"""Shop the look: each garment a photo shows, as a box with the catalogue's category and a confidence.

A photo of a person wears several garments; embedded whole, the largest one or the background
wins. Here the photo is cut into overlapping windows at a few scales (garment-shaped: 3 wide for 4
high, like the catalogue's own shots), every window is embedded in one batch and classified by the
trained head's category classifier, and windows sure enough of a category are grouped: per
category, non-maximum suppression keeps the best window's neighbourhood and its box is their
confidence-weighted mean; one garment per category; a garment whose box mostly repeats a surer
garment's is dropped. Each garment's box is then embedded again and searched like a region.

A photo of one product (a catalogue shot, a flat-lay) stays one garment, the whole picture, so its
results are exactly those of the photo: that happens when fewer than two garments are found, or
when the surest one, of the whole picture's own category, covers most of the picture. An index
without a head has no category classifier: its photo is one garment, named by its tags.

The settings (`LookSettings`) were chosen on the development split of `recommender.looks_set`
(README, "Shop the look").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from recommender.engine import Recommender
from recommender.index import Filters, Hit
from recommender.regions import Box

__all__ = ["Garment", "LookSettings", "Windows", "classify_windows", "garments_of", "find_garments", "shop_the_look",
           "window_boxes", "iou", "look_json"]

WHOLE = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class LookSettings:
    scales: tuple[float, ...] = (0.6, 0.42, 0.3, 0.2)  # window height, as a share of the photo's longer side
    aspect: float = 0.75  # window width / height
    stride: float = 0.5  # step between windows, as a share of the window's side
    min_confidence: float = 0.5  # a window below this names no garment
    group_iou: float = 0.3  # windows of one category overlapping the best one this much are the same garment
    repeat_iou: float = 0.5  # a garment overlapping a surer one this much is that one, misnamed
    single_cover: float = 0.5  # the surest garment covering this share of the photo: a product shot
    longest: int = 1120  # the photo is reduced to this longest side first (the smallest window is then ~224 px)


@dataclass(frozen=True)
class Garment:
    """One garment of a look: its box in fractions of the photo (left, top, right, bottom)."""

    box: tuple[float, float, float, float]
    category: str
    confidence: float

    def pixels(self, size: tuple[int, int]) -> list[int]:
        """The box in the pixels of a photo of `size` = (width, height)."""
        width, height = size
        left, top, right, bottom = self.box
        return [round(left * width), round(top * height), round(right * width), round(bottom * height)]

    @property
    def region(self) -> Box:
        return Box(*self.box)


def window_boxes(width: int, height: int, settings: LookSettings = LookSettings()) -> np.ndarray:
    """(n, 4) windows in fractions of the photo, the whole picture first, then each scale on a grid."""
    longest = max(width, height)
    boxes = [WHOLE]
    for scale in settings.scales:
        h = min(1.0, scale * longest / height)
        w = min(1.0, scale * settings.aspect * longest / width)
        for top in _steps(h, settings.stride):
            for left in _steps(w, settings.stride):
                boxes.append((left, top, left + w, top + h))
    return np.array(list(dict.fromkeys(tuple(round(v, 4) for v in box) for box in boxes)), dtype=np.float64)


def _steps(side: float, stride: float) -> np.ndarray:
    """Window starts from 0 to 1 - side, evenly, at most `stride * side` apart (the last one flush)."""
    if side >= 1.0:
        return np.zeros(1)
    count = int(np.ceil((1.0 - side) / (stride * side))) + 1
    return np.linspace(0.0, 1.0 - side, count)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes a (n, 4) against b (m, 4): (n, m)."""
    a, b = np.atleast_2d(a)[:, None, :], np.atleast_2d(b)[None, :, :]
    inter = (np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
             * np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None))
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def _pictures(image: Image.Image, boxes: np.ndarray) -> list[Image.Image]:
    return [image if tuple(box) == WHOLE else Box(*box).crop(image) for box in boxes.tolist()]


def _reduced(image: Image.Image, longest: int) -> Image.Image:
    if max(image.size) <= longest:
        return image
    reduced = image.copy()
    reduced.thumbnail((longest, longest), Image.Resampling.BILINEAR)
    return reduced


@dataclass(frozen=True)
class Windows:
    """A photo's windows and what the head made of each: the first row is the whole picture."""

    boxes: np.ndarray  # (n, 4) fractions
    categories: list[str]  # (n,) the most probable category of each window
    confidences: np.ndarray  # (n,) its probability
    whole: np.ndarray  # the whole picture's query code, exactly as a plain photo search embeds it


def classify_windows(engine: Recommender, picture: Image.Image, settings: LookSettings = LookSettings()) -> Windows:
    """Every window of a photo embedded in one batch and classified by the head (an index with one)."""
    whole = engine.embed_image(picture)
    reduced = _reduced(picture, settings.longest)
    boxes = window_boxes(*reduced.size, settings)
    codes = np.concatenate([whole[np.newaxis], engine.embed_images(_pictures(reduced, boxes[1:]))])
    attribute = engine.index.roles.category
    probabilities = engine.index.head.classify(codes[:, : engine.index.dim])[attribute]
    vocabulary = engine.index.head.attributes[attribute]
    return Windows(boxes, [vocabulary[c] for c in probabilities.argmax(axis=1)], probabilities.max(axis=1), whole)


def garments_of(windows: Windows, settings: LookSettings = LookSettings()) -> list[Garment]:
    """The garments the windows show, surest first; the whole picture alone for a product shot."""
    whole = Garment(WHOLE, windows.categories[0], float(windows.confidences[0]))
    garments = _group(windows.boxes[1:], np.array(windows.categories[1:]), windows.confidences[1:], settings)
    if len(garments) < 2 or (garments[0].category == whole.category and _area(garments[0].box) >= settings.single_cover):
        return [whole]
    return garments


def find_garments(engine: Recommender, picture: Image.Image,
                  settings: LookSettings = LookSettings()) -> tuple[list[Garment], np.ndarray]:
    """The garments of a decoded, upright photo, surest first, and the query code of each (module notes)."""
    head, attribute = engine.index.head, engine.index.roles.category
    if head is None or attribute not in head.attributes:
        whole = engine.embed_image(picture)
        tag = next((t for t in engine.tags(whole) if t.role == "category"), None)
        return [Garment(WHOLE, tag.value if tag else "", tag.confidence if tag else 0.0)], whole[np.newaxis]
    windows = classify_windows(engine, picture, settings)
    garments = garments_of(windows, settings)
    if garments[0].box == WHOLE:
        return garments, windows.whole[np.newaxis]
    reduced = _reduced(picture, settings.longest)
    return garments, engine.embed_images(_pictures(reduced, np.array([g.box for g in garments])))


def _area(box: tuple[float, float, float, float]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _group(boxes: np.ndarray, classes: np.ndarray, confidences: np.ndarray, settings: LookSettings) -> list[Garment]:
    """One garment per category from its windows, surest first, repeats of a surer garment dropped."""
    garments: list[Garment] = []
    sure = confidences >= settings.min_confidence
    for value in np.unique(classes[sure]):
        rows = np.flatnonzero(sure & (classes == value))
        best = rows[np.argmax(confidences[rows])]
        near = rows[iou(boxes[best], boxes[rows])[0] >= settings.group_iou]
        weights = confidences[near][:, None]
        box = tuple(float(round(v, 4)) for v in (boxes[near] * weights).sum(axis=0) / weights.sum())
        garments.append(Garment(box, str(value), float(confidences[best])))
    garments.sort(key=lambda g: -g.confidence)
    kept: list[Garment] = []
    for garment in garments:
        if not kept or iou(np.array(garment.box), np.array([k.box for k in kept])).max() < settings.repeat_iou:
            kept.append(garment)
    return kept


def shop_the_look(engine: Recommender, image: Image.Image, k: int = 10, filters: Filters = None,
                  settings: LookSettings = LookSettings()) -> list[tuple[Garment, list[Hit]]]:
    """Each garment of a photo with its k results, surest garment first."""
    garments, codes = find_garments(engine, image, settings)
    return [(garment, engine.query_vector(code, k, filters)) for garment, code in zip(garments, codes)]


def look_json(look: list[tuple[Garment, list[Hit]]], size: tuple[int, int],
              record: Callable[[Hit], dict[str, Any]]) -> dict[str, Any]:
    """`{"garments": [{"box", "category", "confidence", "results"}]}`, boxes in the pixels of a photo of `size`
    (the CLI's `query --look --json` and the API's `look=1`; `record` writes one result)."""
    return {"garments": [{"box": garment.pixels(size), "category": garment.category,
                          "confidence": round(garment.confidence, 4), "results": [record(hit) for hit in hits]}
                         for garment, hits in look]}
