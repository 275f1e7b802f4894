"""Shop the look: each garment a photo shows, as a box with the catalogue's category and a confidence.

A photo of a person wears several garments; embedded whole, the largest one or the background
wins. Here the photo is cut into overlapping windows at a few scales (garment-shaped: 3 wide for 4
high, like the catalogue's own shots), every window is embedded in one batch and classified by the
trained head's category classifier. Categories are pooled into garment kinds (top, bottoms, dress,
shoes, hat, bag: `recommender.garment_kinds`, from a Kaggle-like catalogue's subCategory; every category
is its own kind where there is none), and a window's confidence is the probability of its most probable
kind, which also tells garments from background (a wall can be "Perfume and Body Mist" at 0.99 among
121 classes, but is seldom a garment kind at 0.98). Per kind, the surest window and the windows
overlapping it that are nearly as sure (`tie`) make one garment. The head's probabilities saturate (a
window with wide margins around a shoe is as sure of it as one framing it), so their box is the mean
weighted by 1 / area, the tighter windows saying more, shrunk about its centre (windows hold margins
around what they show), and a pair of shoes cut to no taller than wide (the windows stand upright). A garment
whose box mostly repeats a surer garment's is dropped. Each garment's box is then embedded again, and its query
is that vector plus the mean of the windows sure of its kind around it (they framed it several ways: on the dev
looks P@10 of the found garments' kind .960 -> .996); it is named by that query's own category tag, so its chip,
the page's tags and its results agree (a region's tags and ranking come from one vector), and a less sure garment
given a name already taken repeats that one and is dropped.

Where a person model is installed (`recommender.person`) and finds a person, the places their joints give
(shoulders to hips for a top, hips to ankles for trousers, the feet, the head) are classified too, and a
place sure enough (`place_confidence`) of its own kind (its likeliest, where the catalogue has no such kinds)
makes that kind's garment, its box the place itself; the windows then add only kinds no place found (a bag),
where no place is. A product shot (below) is not looked at for a person.

A photo of one product (a catalogue shot, a flat-lay) stays one garment, the whole picture, so its
results are exactly those of the photo: that happens when the whole picture is sure of one garment
kind (`whole_sure`, each index's own: `recommender.look_calibration`; the windows that disagree with
it show parts of the product, a sharp head being 0.99 sure of a "hat" in a corner of a dress), when
fewer than two garments are found, or when the surest one, of the whole picture's own kind, covers
most of the picture. An index without a head has no category classifier, and one whose categories are no
garment kind (watches, perfumes) nothing to tell apart: its photo is one garment, named by its tags.

The settings (`LookSettings`) were chosen on the development split of `recommender.looks_set`
with `scripts/tune_looks.py` (README, "Shop the look").
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image

from recommender.engine import Recommender
from recommender.errors import RecommenderError
from recommender.garment_kinds import kind_mass, kinds_of
from recommender.index import Filters, Hit, Index
from recommender.look_boxes import area, iou, no_taller_than_wide, shrunk, smallest, tight_mean
from recommender.look_calibration import read_calibration
from recommender.person import garment_places, person_model
from recommender.query_value import Query
from recommender.regions import Box
from recommender.tags import Tag
from recommender.vectors import unit_rows

__all__ = ["Garment", "LookSettings", "Windows", "classify_windows", "garments_of", "find_garments", "finds_garments",
           "shop_the_look", "window_boxes", "look_json", "whole_sureness", "index_look_settings"]

log = logging.getLogger(__name__)

WHOLE = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class LookSettings:
    """How windows are laid out and grouped; the defaults were chosen on the dev split (module notes)."""

    scales: tuple[float, ...] = (0.55, 0.38, 0.25, 0.16)  # window height, as a share of the photo's longer side
    aspect: float = 0.75  # window width / height
    stride: float = 0.8  # step between windows, as a share of the window's side
    min_confidence: float = 0.98  # a window less sure of its garment kind names no garment
    group_iou: float = 0.1  # windows of a kind overlapping its surest one this much are the same garment
    tie: float = 0.06  # ... when they are nearly as sure of it: at most this much less confident than the surest
    shrink: float = 0.85  # a garment's box, scaled about its centre: windows hold margins around what they see
    repeat_iou: float = 0.3  # a garment overlapping a surer one this much is that one, misnamed
    single_cover: float = 0.4  # the surest garment covering this share of the photo, of its own kind: a product shot
    whole_sure: float = 0.97  # the whole picture this sure of one garment kind: a product shot (each index its own: look_calibration)
    fine_gate: float = 0.99  # the smallest windows are looked at only inside a larger window this sure of some garment
    longest: int = 1120  # the photo is reduced to this longest side first (the smallest window is then ~180 px)
    place_confidence: float = 0.3  # a person's garment place this sure of its kind makes its garment
    support_iou: float = 0.1  # windows sure of a garment's kind overlapping its box this much join its query


@dataclass(frozen=True)
class Garment:
    """One garment of a look: its box in fractions of the photo (left, top, right, bottom), its category (its
    query's own tag) and confidence (how sure the windows, or the person's place, are of a garment of its kind there:
    the order the garments come in)."""

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


def _pictures(image: Image.Image, boxes: np.ndarray) -> list[Image.Image]:
    return [image if tuple(box) == WHOLE else Box(*box).crop(image) for box in boxes.tolist()]


def _reduced(image: Image.Image, longest: int) -> Image.Image:
    if max(image.size) <= longest:
        return image
    reduced = image.copy()
    reduced.thumbnail((longest, longest), Image.Resampling.BILINEAR)
    return reduced


_SETTINGS: "weakref.WeakKeyDictionary[Index, LookSettings]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Windows:
    """A photo's windows and what the head made of each: the first row is the whole picture."""

    boxes: np.ndarray  # (n, 4) fractions
    probabilities: np.ndarray  # (n, V) of each category value
    values: list[str]  # the V category values
    kinds: list[str | None]  # the garment kind of each value
    whole: Query  # the whole picture's query, exactly as a plain photo search embeds it
    places: np.ndarray | None = None  # (m, 4) fractions: where a person's garments sit (None: no person found)
    place_probabilities: np.ndarray | None = None  # (m, V) of each category value, per place
    place_kinds: tuple[str, ...] = ()  # (m,) the garment kind each place is for (recommender.person)
    aspect: float = 1.0  # the photo's width / height (the boxes are fractions of each side)
    vectors: np.ndarray | None = None  # (n, d) each window's query vector (zeros where not looked at)

    @cached_property
    def kind_mass(self) -> tuple[list[str], np.ndarray]:
        """The garment kinds and (n, K) each window's probability of each (`garment_kinds.kind_mass`), worked out
        once: the grouping and every garment's query read them."""
        return kind_mass(self.probabilities, self.kinds)


def whole_sureness(engine: Recommender, picture: Image.Image) -> float:
    """How sure the head is of the whole picture's likeliest garment kind (what `whole_sure` is compared with)."""
    if not finds_garments(engine):
        raise RecommenderError(f"Index {engine.index.path} has no head that classifies its category into garment "
                               "kinds: a photo has no garment kind to be sure of.")
    index, attribute = engine.index, engine.index.roles.category
    values = index.head.attributes[attribute]
    probabilities = index.head.classify(engine.embed_image(picture).vector[None])[attribute]
    return float(kind_mass(probabilities, kinds_of(index, values))[1].max())


def classify_windows(engine: Recommender, picture: Image.Image, settings: LookSettings = LookSettings()) -> Windows:
    """A photo's windows classified by the head (an index with one): the whole photo, the larger windows
    in one batch, then the smallest windows only where a larger window shows some garment (`fine_gate`):
    the others show background and cannot win, and keep probabilities of 0."""
    reduced = _reduced(picture, settings.longest)
    boxes = window_boxes(*reduced.size, settings)
    index, attribute = engine.index, engine.index.roles.category
    values = index.head.attributes[attribute]
    kinds = kinds_of(index, values)

    def classify(queries: list[Query]) -> np.ndarray:
        return index.head.classify(np.stack([query.vector for query in queries]))[attribute]

    whole = engine.embed_image(picture)  # alone, exactly as a plain photo search embeds it (a batch may round apart)
    fine = smallest(boxes)
    coarse = np.flatnonzero(~fine)  # the whole photo (row 0) first, then the larger windows in one batch
    looked = [whole, *engine.embed_images(_pictures(reduced, boxes[coarse[1:]]))]
    found = classify(looked)
    probabilities = np.zeros((len(boxes), len(values)), dtype=found.dtype)
    probabilities[coarse] = found
    vectors = np.zeros((len(boxes), len(whole.vector)), dtype=np.float32)
    vectors[coarse] = [query.vector for query in looked]
    garment = np.array([kind is not None for kind in kinds])
    shown = coarse[1:][found[1:, garment].sum(axis=1) >= settings.fine_gate]
    rows = np.flatnonzero(fine)
    centres = (boxes[rows, :2] + boxes[rows, 2:]) / 2
    inside = ((centres[:, None, 0] >= boxes[None, shown, 0]) & (centres[:, None, 0] <= boxes[None, shown, 2])
              & (centres[:, None, 1] >= boxes[None, shown, 1]) & (centres[:, None, 1] <= boxes[None, shown, 3]))
    rows = rows[inside.any(axis=1)]
    if len(rows):
        looked = engine.embed_images(_pictures(reduced, boxes[rows]))
        probabilities[rows], vectors[rows] = classify(looked), [query.vector for query in looked]
    product_shot = kind_mass(found[:1], kinds)[1].max() >= settings.whole_sure  # no person to look for there
    places = {} if product_shot else _person_places(reduced)
    if not places:
        return Windows(boxes, probabilities, values, kinds, whole, aspect=reduced.width / reduced.height,
                       vectors=vectors)
    spots = np.array(list(places.values()), dtype=np.float64)
    return Windows(boxes, probabilities, values, kinds, whole, spots,
                   classify(engine.embed_images(_pictures(reduced, spots))), tuple(places),
                   reduced.width / reduced.height, vectors)


def _person_places(picture: Image.Image) -> dict[str, tuple[float, float, float, float]]:
    """Per garment kind, its place on the person in the photo (`recommender.person`); none without a person model
    or a person, or when the model fails on this photo (logged: the windows alone answer)."""
    model = person_model()
    try:
        person = model.find(picture) if model is not None else None
    except (ValueError, RuntimeError, KeyError, IndexError) as exc:
        log.warning("The person model failed on a photo (%s): shop the look uses windows alone.", exc)
        return {}
    return garment_places(person, picture.width / picture.height) if person is not None else {}


def garments_of(windows: Windows, settings: LookSettings = LookSettings()) -> list[Garment]:
    """The garments the windows show, surest first; the whole picture alone for a product shot: the whole
    picture sure of one kind (`whole_sure`: the windows that disagree show parts of it), fewer than two
    garments, or the surest one of the picture's own kind and covering most of it."""
    names, mass = windows.kind_mass
    whole = _whole_garment(windows)
    if mass[0].max() >= settings.whole_sure:
        return [whole]
    garments = _group(windows, names, mass, settings)
    if windows.places is not None:
        garments = _with_places(windows, names, garments, settings)
    own_kind = windows.kinds[int(windows.probabilities[0].argmax())]
    if len(garments) < 2 or (garments[0][1] == own_kind and area(garments[0][0].box) >= settings.single_cover):
        return [whole]
    return [garment for garment, _ in garments]


def _whole_garment(windows: Windows) -> Garment:
    """The whole picture as one garment, named by the head's likeliest category for it."""
    first = windows.probabilities[0]
    return Garment(WHOLE, windows.values[int(first.argmax())], float(first.max()))


def index_look_settings(index: Index) -> LookSettings:
    """The default settings with the index's own product-shot threshold, when it has one that fits its head."""
    if index not in _SETTINGS:
        calibration = read_calibration(index)
        _SETTINGS[index] = replace(LookSettings(), whole_sure=calibration.whole_sure) if calibration else LookSettings()
    return _SETTINGS[index]


def finds_garments(engine: Recommender) -> bool:
    """Whether the index can tell garments apart: its head classifies the catalogue's category and some of its
    values are garments (a catalogue of watches and perfumes has no garment kind to find: each photo is one)."""
    index, head = engine.index, engine.index.head
    if head is None or index.roles.category not in head.attributes:
        return False
    return any(kind is not None for kind in kinds_of(index, head.attributes[index.roles.category]))


def find_garments(engine: Recommender, picture: Image.Image,
                  settings: LookSettings | None = None) -> tuple[list[Garment], list[Query]]:
    """The garments of a decoded, upright photo, surest first, and the query of each (module notes); the
    settings are the index's own (`recommender.look_calibration`) unless given."""
    if not finds_garments(engine):
        whole = engine.embed_image(picture)
        tag = _category_tag(engine, whole)
        return [Garment(WHOLE, tag.value if tag else "", tag.confidence if tag else 0.0)], [whole]
    settings = settings or index_look_settings(engine.index)
    windows = classify_windows(engine, picture, settings)
    garments = garments_of(windows, settings)
    if garments[0].box == WHOLE:
        return garments, [windows.whole]
    reduced = _reduced(picture, settings.longest)
    crops = engine.embed_images(_pictures(reduced, np.array([g.box for g in garments])))
    named: list[tuple[Garment, Query]] = []
    for garment, crop in zip(garments, crops):  # named by its query's tag, as the page names it: chip and results agree
        query = _garment_query(windows, garment, crop, settings)
        name = _category_tag(engine, query).value  # the head classifies the category (finds_garments)
        if all(name != other.category for other, _ in named):  # a second one of that name repeats the surer one
            named.append((replace(garment, category=name), query))
    if len(named) < 2:
        return [_whole_garment(windows)], [windows.whole]
    return [garment for garment, _ in named], [query for _, query in named]


def _category_tag(engine: Recommender, query: Query) -> Tag | None:
    """The query's category tag, the one the search page shows for it."""
    return next((tag for tag in engine.tags(query) if tag.role == "category"), None)


def _garment_query(windows: Windows, garment: Garment, crop: Query, settings: LookSettings) -> Query:
    """A garment's query: its box's vector plus the mean of the windows that found it (sure of its kind and
    overlapping its box: `support_iou`), made one; the colours are its box's. The windows saw the garment framed
    several ways, so it keeps its kind better than one crop (module notes)."""
    names, mass = windows.kind_mass
    kind = windows.kinds[windows.values.index(garment.category)]
    if windows.vectors is None or kind not in names:
        return crop
    k = names.index(kind)
    support = (iou(np.array(garment.box), windows.boxes)[0] >= settings.support_iou) & (mass.argmax(axis=1) == k) \
        & (mass[:, k] >= settings.min_confidence - settings.tie)
    support[0] = False  # the whole photo is no window of the garment
    if not support.any():
        return crop
    mean = unit_rows(windows.vectors[support].mean(axis=0, keepdims=True))[0]
    return Query(unit_rows((mean + crop.vector)[None])[0], crop.colours)


def _group(windows: Windows, names: list[str], mass: np.ndarray,
           settings: LookSettings) -> list[tuple[Garment, str]]:
    """One garment per kind (with its kind) from the windows after the first, surest first, repeats dropped."""
    boxes, mass, probabilities = windows.boxes[1:], mass[1:], windows.probabilities[1:]
    best_kind, confidence = mass.argmax(axis=1), mass.max(axis=1)
    garments: list[tuple[Garment, str]] = []
    for k, name in enumerate(names):
        rows = np.flatnonzero(best_kind == k)
        best = rows[np.argmax(confidence[rows])] if len(rows) else None
        if best is None or confidence[best] < settings.min_confidence:
            continue
        near = rows[(iou(boxes[best], boxes[rows])[0] >= settings.group_iou)
                    & (confidence[rows] >= confidence[best] - settings.tie)]
        box = shrunk(tight_mean(boxes[near]), settings.shrink)
        if name == "shoes":  # wider than tall, whatever the upright windows framed (look_boxes.no_taller_than_wide)
            box = no_taller_than_wide(box, windows.aspect)
        weights = confidence[near][:, None]
        votes = (probabilities[near] * weights).sum(axis=0) * [kind == name for kind in windows.kinds]
        garments.append((Garment(box, windows.values[int(votes.argmax())], float(confidence[best])), name))
    garments.sort(key=lambda pair: -pair[0].confidence)
    kept: list[tuple[Garment, str]] = []
    for garment, name in garments:
        if not _repeats(garment.box, kept, settings):
            kept.append((garment, name))
    return kept


def _repeats(box: tuple[float, ...], kept: list[tuple[Garment, str]], settings: LookSettings) -> bool:
    """Whether a garment's box mostly repeats one already kept (`repeat_iou`): the same garment, named twice."""
    return bool(kept) and iou(np.array(box), np.array([g.box for g, _ in kept])).max() >= settings.repeat_iou


def _with_places(windows: Windows, names: list[str], found: list[tuple[Garment, str]],
                 settings: LookSettings) -> list[tuple[Garment, str]]:
    """The garments of a person's places (one per kind, the surest; a place repeating a surer one dropped), then
    the windows' garments of the kinds no place found, where no kept garment is; surest first."""
    _, mass = kind_mass(windows.place_probabilities, windows.kinds)
    own = np.array([names.index(kind) if kind in names else -1 for kind in windows.place_kinds])
    mass = np.where((own[:, None] < 0) | (np.arange(len(names))[None, :] == own[:, None]), mass, 0.0)  # its kind
    placed: list[tuple[Garment, str]] = []
    for row in np.argsort(-mass.max(axis=1), kind="stable"):
        k, confidence = int(mass[row].argmax()), float(mass[row].max())
        box = tuple(float(v) for v in windows.places[row])  # rounded already, as the app's regions are
        if confidence < settings.place_confidence or any(name == names[k] for _, name in placed) \
                or _repeats(box, placed, settings):
            continue
        of_kind = windows.place_probabilities[row] * [kind == names[k] for kind in windows.kinds]
        placed.append((Garment(box, windows.values[int(of_kind.argmax())], confidence), names[k]))
    kept = list(placed)
    for garment, name in found:
        if not any(name == other for _, other in placed) and not _repeats(garment.box, kept, settings):
            kept.append((garment, name))
    return sorted(kept, key=lambda pair: -pair[0].confidence)


def shop_the_look(engine: Recommender, image: Image.Image, k: int = 10, filters: Filters = None,
                  settings: LookSettings | None = None) -> list[tuple[Garment, list[Hit]]]:
    """Each garment of a photo with its k results, surest garment first."""
    garments, queries = find_garments(engine, image, settings)
    selection = engine.select(filters)
    return [(garment, engine.search(query, k, selection)) for garment, query in zip(garments, queries)]


def look_json(look: list[tuple[Garment, list[Hit]]], size: tuple[int, int],
              record: Callable[[Hit], dict[str, Any]]) -> dict[str, Any]:
    """`{"garments": [{"box", "category", "confidence", "results"}]}`, boxes in the pixels of a photo of `size`
    (the CLI's `query --look --json` and the API's `look=1`; `record` writes one result)."""
    return {"garments": [{"box": garment.pixels(size), "category": garment.category,
                          "confidence": round(garment.confidence, 4), "results": [record(hit) for hit in hits]}
                         for garment, hits in look]}
