"""A trained index: a head learnt on an index's own vectors, written as a new index folder.

The head (`recommender.head`) is trained on the vectors and colours a build already stored (no
image is decoded again), with every labelled attribute of the catalogue as a target and, when given,
shoppers' photos tied to catalogue values by a label map. A held-out share of the products, and of
the photos by the same hashing rule, is never trained on: evaluation scores it, and the ranking's
weights are chosen on it. The new folder has the same products and appearance, the head's
embedding as vectors, `head.npz` and `hubness.npy`; queries go through the backbone, then the head.
The CLI (`python -m recommender train`) and the demo set-up call `train_index`.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from recommender.errors import RecommenderError
from recommender.head import Head
from recommender.index import Index
from recommender.index_files import HEAD, HUBNESS, write_index
from recommender.label_map import LabelMap
from recommender.manifest import Holdout, Manifest
from recommender.training import Labels, PhotoTargets, TrainSettings, accuracy, encode, hubness, train_head
from recommender.vectors import unit_rows
from recommender.view_catalog import SOURCE

__all__ = ["TrainedIndex", "train_index", "photo_targets"]

MAIN_WEIGHT, OTHER_WEIGHT = 1.0, 0.5  # category and colour weigh most: they are what the shopper sees
EMBED_BLOCK = 8192


@dataclass(frozen=True)
class TrainedIndex:
    manifest: Manifest
    head: Head
    seconds: float
    accuracy: dict[str, float]  # per attribute, the held-out products' classifier accuracy


def check_label_map(label_map: LabelMap, index: Index) -> None:
    if label_map.index_attribute not in index.attributes():
        raise RecommenderError(f"The label map {label_map.path} ties photos to {label_map.index_attribute!r}, which "
                               f"the catalogue of index {index.path} does not have.")


def _labels(index: Index, rows: np.ndarray, chosen: list[str] | None, label_map: LabelMap | None,
            balance: float = 0.0) -> dict[str, Labels]:
    """The targets: the chosen (or every labelled) attribute, learnt on the training rows only; the category's
    classes balanced by `balance` (TrainSettings.class_balance)."""
    from recommender.evaluation.metrics import default_attributes

    records = [index.products[i].attributes for i in rows]
    present = index.attributes()
    unknown = [a for a in chosen or [] if a not in present]
    if unknown:
        raise RecommenderError(f"The catalogue of index {index.path} has no attribute {', '.join(unknown)}; it has "
                               f"{', '.join(present)}.")
    computed = set(index.manifest.computed)
    names = chosen or [a for a in default_attributes(records) if a not in computed]
    if label_map is not None and label_map.index_attribute not in names:
        names.append(label_map.index_attribute)
    roles = index.roles
    main = {roles.category, roles.colour}
    labels = {a: encode([r.get(a) for r in records], 5, MAIN_WEIGHT if a in main else OTHER_WEIGHT,
                        balance if a == roles.category else 0.0) for a in names}
    labels = {a: lab for a, lab in labels.items() if len(lab.vocabulary) >= 2}
    if not labels:
        raise RecommenderError(f"The catalogue of index {index.path} has no labels to learn (no attribute with 2 to "
                               "200 values, each on at least 5 products); a head cannot be trained, and its tags "
                               "come from the nearest neighbours.")
    return labels


def photo_targets(photos: Index, index: Index, label_map: LabelMap, holdout: Holdout,
                  log: TextIO | None = None, views: Index | None = None, view_weight: float = 1.0,
                  balance: float = 0.0) -> PhotoTargets:
    """The labelled photos (an index of them by the same backbone), each with its allowed catalogue values,
    and, with `views`, street-like views of them (`views --catalog PHOTOS`), each with its photo's values and
    weighing `view_weight` against a photo; `balance` weighs a photo of a rarer kind up (Labels.balance: the
    weakest kinds, dress and skirt, are among the rarer ones).

    The photos the holdout rule picks, and their views, are left out, so the ranking's weights can be chosen
    on photos the head never saw (scripts/tune_ranking.py, scripts/tune_split.py).
    """
    values = [p.attributes.get(label_map.query_attribute) for p in photos.products]
    if not any(values):
        raise RecommenderError(f"The photos in {photos.manifest.catalog.path} have no {label_map.query_attribute!r} "
                               f"label that the label map {label_map.path} names.")
    warning = label_map.check({v for v in values if v}, {p.attributes.get(label_map.index_attribute)
                                                         for p in index.products})
    if warning:
        print(f"warning: {warning}", file=log or sys.stderr)
    rows = np.flatnonzero(~holdout.mask(photos.ids))
    vectors, colours = unit_rows(np.asarray(photos.vectors)[rows]), None
    if index.appearance is not None:
        colours = photos.appearance.colours[rows]
    weights = np.ones(len(rows), np.float32)
    sources = rows
    if views is not None:
        view_at, shown = view_rows(views, photos, holdout)  # a view of a held-out photo is never trained on
        vectors = np.concatenate([vectors, unit_rows(np.asarray(views.vectors)[view_at])])
        if colours is not None:
            colours = np.concatenate([colours, views.appearance.colours[view_at]])
        weights = np.concatenate([weights, np.full(len(view_at), view_weight, np.float32)])
        sources = np.concatenate([rows, shown])
    if balance:
        weights = weights * encode([values[i] for i in sources], 1, balance=balance).class_weights()
    return PhotoTargets(vectors, colours, label_map.index_attribute,
                        [label_map.values_for(values[i]) for i in sources], weights)


def view_rows(views: Index, index: Index, holdout: Holdout) -> tuple[np.ndarray, np.ndarray]:
    """(rows of `views`, their source products' rows in `index`) for the views a head may learn from:
    views of products (or photos) it trains on (recommender.view_catalog), embedded by the same backbone."""
    if not (views.model.compatible(index.model) and views.dim == index.dim):
        raise RecommenderError(f"The views in {views.path} were embedded with {views.model.label}, not with "
                               f"{index.model.label} as {index.path} was; build them with the same backbone.")
    sources = [p.attributes.get(SOURCE) for p in views.products]
    if not any(sources):
        raise RecommenderError(f"The catalogue of {views.path} has no '{SOURCE}' column naming each view's product; "
                               "make it with python -m recommender views.")
    pairs = [(row, index.position(s)) for row, s in enumerate(sources) if s in index and not holdout.contains(s)]
    if not pairs:
        raise RecommenderError(f"No view in {views.path} shows a product of {index.path} that the head trains on.")
    rows, products = zip(*pairs)
    return np.array(rows, dtype=np.int64), np.array(products, dtype=np.int64)


def train_index(index: Index, out: Path, *, photos: Index | None = None, label_map: LabelMap | None = None,
                views: Index | None = None, photo_views: Index | None = None, attributes: list[str] | None = None,
                holdout: Holdout = Holdout(0.1, 0), settings: TrainSettings | None = None, progress: bool = False,
                log: TextIO | None = None, photo_rows: PhotoTargets | None = None) -> TrainedIndex:
    """Train a head on `index` (a raw backbone index) and write the trained index folder at `out`; `photo_rows`:
    labelled photos already as arrays (recommender.shopper_photos), instead of `photos` and `label_map`."""
    log = log or sys.stdout
    if index.model.head is not None:
        raise RecommenderError(f"Index {index.path} is already a trained index (head {index.model.head}); train "
                               "from the backbone index it was made from.")
    if Path(out).resolve() == index.path.resolve():
        raise RecommenderError("The trained index must go to a new folder, not the index being trained from.")
    if photos is not None and photo_rows is not None:
        raise RecommenderError("Give the labelled photos once: as an index with its label map (photos) or as ready "
                               "rows (photo_rows), not both.")
    if (photos is None) != (label_map is None):
        raise RecommenderError("Photos and a label map go together: the map says what each photo's category is "
                               "in the catalogue.")
    settings = settings or TrainSettings(seed=holdout.seed)
    train_rows = np.flatnonzero(~holdout.mask(index.ids))  # blank pictures never reach an index (see build)
    if label_map is not None:
        check_label_map(label_map, index)
    no_views = np.empty(0, np.int64)
    own_rows, sources = view_rows(views, index, holdout) if views is not None else (no_views, no_views)
    labels = _labels(index, np.concatenate([train_rows, sources]), attributes, label_map,  # a view: its product's
                     settings.class_balance)
    if photo_views is not None and photos is None:
        raise RecommenderError("Views of photos go with the photos they show (--photos and --label-map).")
    if photos is not None and label_map:
        targets = photo_targets(photos, index, label_map, holdout, views=photo_views,
                                view_weight=settings.view_weight, balance=settings.photo_balance)
        shots = int((~holdout.mask(photos.ids)).sum())  # the photos themselves come first, then their views
    else:
        targets = photo_rows
        shots = len(photo_rows.allowed) if photo_rows is not None else 0

    started = time.monotonic()
    raw = unit_rows(np.asarray(index.vectors))
    colours = index.appearance.colours if index.appearance is not None else None
    x = raw[train_rows]
    x_colours = None if colours is None else colours[train_rows]
    if len(own_rows):
        x = np.concatenate([x, unit_rows(np.asarray(views.vectors)[own_rows])])
        x_colours = None if colours is None else np.concatenate([x_colours, views.appearance.colours[own_rows]])
    print(f"training a head on {len(train_rows):,} products ({len(index) - len(train_rows):,} held out)"
          + (f", {len(own_rows):,} street-like views of them" if len(own_rows) else "")
          + (f" and {sum(bool(a) for a in targets.allowed[:shots]):,} photos" if targets else "")
          + (f" with {len(targets.allowed) - shots:,} street-like views of them" if photo_views is not None else "")
          + ": "
          + ", ".join(f"{a} ({len(lab.vocabulary)} values)" for a, lab in labels.items()), file=log, flush=True)
    row_weights = np.concatenate([np.ones(len(train_rows)), np.full(len(own_rows), settings.view_weight)])
    head = train_head(x, x_colours, labels, index.model, index.manifest.catalog.fingerprint, targets, settings,
                      progress, row_weights).head
    embeddings = np.concatenate([head.embed(raw[i : i + EMBED_BLOCK], None if colours is None
                                            else colours[i : i + EMBED_BLOCK]) for i in range(0, len(raw), EMBED_BLOCK)])
    reference = head.embed(targets.vectors[:shots], None if targets.colours is None else targets.colours[:shots]) \
        if targets is not None and shots else None  # no photo left to train on: the products' own hubness
    hubs = hubness(embeddings, reference)
    seconds = time.monotonic() - started

    manifest = replace(index.manifest, model=replace(index.model, head=head.id), dim=head.dim, normalized=True,
                       holdout=holdout, ann=None, build_seconds=seconds,
                       created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    hub_file = io.BytesIO()
    np.save(hub_file, hubs)
    write_index(Path(out), manifest, index.products, embeddings, index.appearance,
                extra_files={HEAD: head.to_bytes(), HUBNESS: hub_file.getvalue()})
    return TrainedIndex(manifest, head, seconds, _held_out_accuracy(head, embeddings, index, labels,
                                                                    holdout.mask(index.ids)))


def _held_out_accuracy(head: Head, embeddings: np.ndarray, index: Index, labels: dict[str, Labels],
                       held: np.ndarray) -> dict[str, float]:
    """How often the head's classifiers name the held-out products' labels: a first check, not the benchmark."""
    rows = np.flatnonzero(held)
    if not len(rows):
        return {}
    truth = {}
    for attribute, lab in labels.items():
        lookup = {v: code for code, v in enumerate(lab.vocabulary)}
        codes = [lookup.get(index.products[i].attributes.get(attribute, ""), -1) for i in rows]
        truth[attribute] = Labels(np.array(codes, dtype=np.int64), lab.vocabulary)
    return accuracy(head, embeddings[rows], truth)
