"""Shoppers' photos as arrays a head learns from (`demo/shopper-photos.npz`), so that a fresh clone without
../shared still trains the demo's head on them.

The demo catalogue's 691 photos teach the head the demo's own kind of picture, not the kind a shopper
uploads: it called most shopper photos of skirts dresses. The clothing-small *train* photos (CC0,
garments laid flat or hung) teach it that, as `train --photos` does for the Kaggle index. The images
are ../shared data and do not ship; what training needs of them does: each photo's backbone vector
(8 bits per value and a scale per row, cosine >= 0.9999 to the float vector), the colour histogram the
head also takes, and its category. The vectors are one model's (the shipped MobileNetV2): under another
backbone, or colours computed another way, they mean nothing, and are skipped with one sentence.
`scripts/demo_shopper_photos.py` makes the file from ../shared.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from recommender.appearance import APPEARANCE_VERSION
from recommender.atomic import atomic_write
from recommender.index import Index
from recommender.label_map import LabelMap
from recommender.manifest import Holdout
from recommender.model_spec import ModelSpec
from recommender.training import PhotoTargets, encode
from recommender.vectors import unit_rows

__all__ = ["model_key", "write_shopper_photos", "shopper_photo_targets"]

LEVELS = 255  # a vector's values are stored as 0..255 times its row's scale (they are >= 0: after a ReLU)


def model_key(spec: ModelSpec) -> str:
    """What the vectors depend on: the model's file name and content (a TFLite file), or its name and weights."""
    file = spec.weights_file
    if file is None:
        return spec.without_head().label
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()[:16]
    return f"{Path(file).name} sha256:{digest}"


def write_shopper_photos(photos: Index, path: Path, attribute: str = "category") -> int:
    """Write the labelled photos of a raw index (their folder as `attribute`) to `path`; returns the count."""
    if photos.model.head is not None or photos.appearance is None:
        raise ValueError(f"{photos.path} must be a raw index with colours (built, not trained)")
    vectors = unit_rows(np.asarray(photos.vectors, np.float32))
    if (vectors < 0).any():
        raise ValueError(f"the vectors of {photos.path} have negative values: 8-bit storage assumes none")
    scale = np.maximum(vectors.max(axis=1, keepdims=True), 1e-12) / LEVELS
    arrays = {
        "ids": np.array(photos.ids), "categories": np.array([p.attributes.get(attribute, "") for p in photos.products]),
        "levels": np.round(vectors / scale).astype(np.uint8), "scale": scale.astype(np.float32),
        "colours": np.asarray(photos.appearance.colours, np.float16),
        "model": np.array(model_key(photos.model)),
        "appearance_version": np.array(photos.manifest.appearance_version),  # what its colours are, as the index says
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with atomic_write(Path(path), "wb") as handle:
        handle.write(buffer.getvalue())
    return len(photos.ids)


def shopper_photo_targets(path: Path, index: Index, label_map: LabelMap, holdout: Holdout | None = None,
                          log: TextIO | None = None, known: dict[str, str] | None = None,
                          balance: float = 0.0, known_weight: float = 1.0) -> PhotoTargets | None:
    """The shipped photos as training targets for a head on `index` (a raw index), each with the catalogue
    values its category may be; None, said in one sentence, when the file is missing or made for another
    model or colour definition. Photos `holdout` picks are left out (scripts/tune_demo.py scores them);
    `known`: a value every photo is taken to have, its loss weighed by `known_weight` (training.PhotoTargets);
    `balance`: a photo of a kind
    with n photos weighs n^-balance (TrainSettings.photo_balance, weighed as trained_index.photo_targets does)."""
    log = log or sys.stderr
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
        made_for = str(arrays["model"])
    except (OSError, KeyError, ValueError) as exc:
        print(f"The shoppers' photos in {path} cannot be read ({exc}), so the head learns without them.", file=log)
        return None
    try:
        wanted = model_key(index.model)
    except OSError as exc:  # the photos are matched to the model by its file's digest
        print(f"The model file {index.model.weights_file} of {index.path} cannot be read ({exc.strerror or exc}), so "
              f"the shoppers' photos in {path.name} cannot be matched to its vectors and the head learns without them.",
              file=log)
        return None
    if made_for != wanted:
        print(f"The shoppers' photos in {path.name} are vectors of {made_for}, not of {wanted}, so the head learns "
              "without them.", file=log)
        return None
    stored, described = int(arrays["appearance_version"]), index.manifest.appearance_version
    if index.appearance is not None and stored != described:  # the head takes their colours beside the index's
        remake = "scripts/demo_shopper_photos.py" if described == APPEARANCE_VERSION \
            else f"python -m recommender build for {index.path}"
        print(f"The shoppers' photos in {path.name} have colours of version {stored}, the index's are of version "
              f"{described}, so the head learns without them (remake the older: {remake}).", file=log)
        return None
    keep = np.ones(len(arrays["ids"]), bool) if holdout is None else ~holdout.mask([str(i) for i in arrays["ids"]])
    vectors = unit_rows(arrays["levels"][keep].astype(np.float32) * arrays["scale"][keep])
    colours = arrays["colours"][keep].astype(np.float32) if index.appearance is not None else None
    kinds = [str(c) for c in arrays["categories"][keep]]
    weights = encode(kinds, 1, balance=balance).class_weights() if balance else None
    return PhotoTargets(vectors, colours, label_map.index_attribute, [label_map.values_for(c) for c in kinds],
                        weights, known=known, known_weight=known_weight)
