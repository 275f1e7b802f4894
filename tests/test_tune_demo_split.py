"""scripts/tune_demo.py's held-out photos: look-alikes (a garment shot twice) fall on the same side of the split."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from recommender.manifest import Holdout

REPO = Path(__file__).resolve().parent.parent


def _script():
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location("tune_demo", REPO / "scripts" / "tune_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tune_demo"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _photos(vectors: list[list[float]], ids: list[str]) -> SimpleNamespace:
    return SimpleNamespace(vectors=np.asarray(vectors, np.float32), ids=ids)


def test_lookalikes_join_transitively_and_strangers_stay_alone() -> None:
    # a~b and b~c reach 0.9, a and c do not (a chain), d is unlike all
    angle = np.arccos(0.9)
    vectors = [[1, 0, 0], [np.cos(angle), np.sin(angle), 0], [np.cos(2 * angle), np.sin(2 * angle), 0], [0, 0, 1]]
    photos = _photos(vectors, ["a", "b", "c", "d"])
    assert _script().lookalike_groups(photos, 0.85) == {"a": "a", "b": "a", "c": "a", "d": "d"}
    assert set(_script().lookalike_groups(photos, 0.95).values()) == {"a", "b", "c", "d"}


def test_a_group_is_held_out_whole_and_the_share_stays() -> None:
    tune = _script()
    ids = [f"kind/{i}" for i in range(4000)]
    groups = {i: ids[(n // 4) * 4] for n, i in enumerate(ids)}  # groups of four
    held = tune.GroupedHoldout(0.25, 16, groups).mask(ids).reshape(-1, 4)
    assert (held.all(axis=1) | ~held.any(axis=1)).all()  # never split
    assert 0.2 < held.mean() < 0.3
    assert not (held.all(axis=1) == Holdout(0.25, 16).mask(ids).reshape(-1, 4).all(axis=1)).all()
    assert (tune.GroupedHoldout(0.25, 16).mask(ids) == Holdout(0.25, 16).mask(ids)).all()  # no groups: per photo


def test_the_grouped_split_reaches_the_photos_the_head_learns_from(tmp_path: Path) -> None:
    """shopper_photo_targets leaves out exactly the groups the grouped holdout picks: here each kind is one group,
    so whole kinds are missing from what the head would learn."""
    from recommender.demo_index import DEMO_LABEL_MAP, DEMO_SHOPPER_PHOTOS
    from recommender.label_map import read_label_map
    from recommender.shopper_photos import shopper_photo_targets
    from tests.test_shopper_photos import _shipped_model_index

    with np.load(DEMO_SHOPPER_PHOTOS) as stored:
        ids = [str(i) for i in stored["ids"]]
    groups = {i: i.split("/")[0] for i in ids}
    held = _script().GroupedHoldout(0.5, 3, groups)
    gone = {kind for kind in set(groups.values()) if held.contains(kind)}
    assert 0 < len(gone) < len(set(groups.values()))
    targets = shopper_photo_targets(DEMO_SHOPPER_PHOTOS, _shipped_model_index(tmp_path), read_label_map(DEMO_LABEL_MAP),
                                    held)
    assert len(targets.allowed) == sum(groups[i] not in gone for i in ids)


def test_nearest_trained_shows_a_leaked_twin(capsys) -> None:
    """The leak measure: a held-out photo with a twin in training reads cosine 1, a stranger 0."""
    product = SimpleNamespace(attributes={"category": "skirt"})
    photos = SimpleNamespace(vectors=np.array([[1, 0], [1, 0], [0, 1]], np.float32), ids=["a", "b", "c"],
                             products=[product] * 3)
    _script().nearest_trained(photos, np.array([True, False, False]), None)
    assert "held-out photos (2), cosine to the nearest trained photo: mean 0.500, median 0.500, >= 0.90 50.0%" \
        in capsys.readouterr().out
