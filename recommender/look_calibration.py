"""A trained index's own product-shot threshold for shop the look, kept beside it (`look-calibration.json`).

A photo of one product must stay one garment, the whole picture. The windows cannot tell: a sharp head
is as sure (0.99) of a "hat" in a small window at the edge of a laid-flat dress as of a real hat on a
person. The whole picture can: a product shot is sure of one garment kind, a photo of several garments
less so. How sure differs from head to head, though: the demo's head, which learnt the shoppers' photos
(demo/shopper-photos.npz), is at most 0.94 sure of one kind on a photo of several garments and below
0.90 on one photo of its own products in ten; the Kaggle head reaches 0.96 on photos of several garments
and above 0.99 on almost every product shot. So the threshold (`LookSettings.whole_sure`) is each head's
own: the `QUANTILE` of its whole-picture sureness over photos of several garments (the multi-garment
looks of a `looks-set` dev split), written by `scripts/calibrate_looks.py` and tied to the head it was
measured on; an index without one, or whose head was retrained since, uses the settings' default.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.atomic import write_text_atomic
from recommender.errors import RecommenderError
from recommender.index import Index

__all__ = ["CALIBRATION_FILE", "QUANTILE", "Calibration", "product_shot_threshold", "read_calibration",
           "read_calibration_file", "write_calibration"]

CALIBRATION_FILE = "look-calibration.json"
QUANTILE = 0.97  # chosen on the tune sets (README, "Shop the look"): the photos of several garments are rarely surer
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """The whole-picture sureness above which a photo is one product, for the head `head`."""

    whole_sure: float
    head: str
    photos: int  # the photos of several garments it was measured on
    weights: str = ""  # the head's `weights_id`: the same head trained in another clone has another `head`


def product_shot_threshold(sureness: Sequence[float]) -> float:
    """The threshold from the whole-picture sureness of photos of several garments (module notes)."""
    if len(sureness) == 0:
        raise RecommenderError("There is no photo of several garments to calibrate on: give a looks folder "
                               "(images/ and garments.csv) with looks of two garments or more.")
    return float(np.quantile(np.asarray(sureness, dtype=np.float64), QUANTILE))


def write_calibration(index_dir: Path, calibration: Calibration) -> Path:
    """Keep the calibration beside the index in `index_dir`, atomically; the file written."""
    path = Path(index_dir) / CALIBRATION_FILE
    write_text_atomic(path, json.dumps({"whole_sure": round(calibration.whole_sure, 6), "head": calibration.head,
                                        "photos": calibration.photos, "quantile": QUANTILE,
                                        "weights": calibration.weights}, indent=1) + "\n")
    return path


def read_calibration(index: Index) -> Calibration | None:
    """The index's calibration; None without one, for another head, or unreadable (logged: the default then holds)."""
    calibration = read_calibration_file(Path(index.path) / CALIBRATION_FILE)
    if calibration is not None and calibration.head != index.manifest.model.head:
        log.warning("%s was measured on head %s, not this index's %s: the default threshold is used.",
                    Path(index.path) / CALIBRATION_FILE, calibration.head, index.manifest.model.head)
        return None
    return calibration


def read_calibration_file(path: Path) -> Calibration | None:
    """A calibration file whatever its head (the demo's shipped one, before it is put beside an index); None
    without one, or unreadable (logged)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        calibration = Calibration(float(data["whole_sure"]), str(data["head"]), int(data["photos"]),
                                  str(data.get("weights", "")))
        if not 0.0 <= calibration.whole_sure <= 1.0:  # NaN too: a threshold no photo passes, or every one
            raise ValueError(f"whole_sure {calibration.whole_sure} is no sureness between 0 and 1")
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("%s is not a look calibration (%s): the default threshold is used.", path, error)
        return None
    return calibration
