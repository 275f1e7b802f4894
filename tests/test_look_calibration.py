"""An index's own product-shot threshold (`recommender.look_calibration`): kept beside it, tied to its head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.errors import RecommenderError
from recommender.look_calibration import (CALIBRATION_FILE, QUANTILE, Calibration, product_shot_threshold,
                                          read_calibration, write_calibration)
from recommender.looks import LookSettings, index_look_settings


class FakeIndex:
    """What the calibration reads of an index: its folder and its head's identity."""

    def __init__(self, path: Path, head: str | None) -> None:
        self.path = path
        self.manifest = type("Manifest", (), {"model": type("Model", (), {"head": head})()})()


def test_the_threshold_is_the_quantile_of_the_several_garment_photos_sureness() -> None:
    sureness = np.linspace(0.5, 0.96, 35)
    assert product_shot_threshold(sureness) == pytest.approx(np.quantile(sureness, QUANTILE))
    assert 0.94 < product_shot_threshold(sureness) < 0.96  # the surest few photos of several garments lie above it
    with pytest.raises(RecommenderError, match="no photo of several garments"):
        product_shot_threshold([])


def test_a_calibration_is_read_back_for_its_own_head_only(tmp_path: Path, caplog) -> None:
    index = FakeIndex(tmp_path, "head-a")
    assert read_calibration(index) is None and index_look_settings(index) == LookSettings()
    path = write_calibration(index.path, Calibration(0.93, "head-a", 34))
    assert path == tmp_path / CALIBRATION_FILE
    assert read_calibration(index) == Calibration(0.93, "head-a", 34)
    assert index_look_settings(FakeIndex(tmp_path, "head-a")).whole_sure == 0.93
    retrained = FakeIndex(tmp_path, "head-b")
    assert read_calibration(retrained) is None and "not this index's head-b" in caplog.text
    assert index_look_settings(retrained) == LookSettings()


def test_an_unreadable_calibration_leaves_the_default(tmp_path: Path, caplog) -> None:
    (tmp_path / CALIBRATION_FILE).write_text("{not json", encoding="utf-8")
    assert read_calibration(FakeIndex(tmp_path, "h")) is None and "is not a look calibration" in caplog.text
    (tmp_path / CALIBRATION_FILE).write_text('{"whole_sure": "high"}', encoding="utf-8")
    assert index_look_settings(FakeIndex(tmp_path, "h")) == LookSettings()
    for sure in ("NaN", "1.5", "-0.2"):  # edited by hand: no sureness, so not the threshold of any photo
        (tmp_path / CALIBRATION_FILE).write_text(f'{{"whole_sure": {sure}, "head": "h", "photos": 34}}',
                                                 encoding="utf-8")
        assert read_calibration(FakeIndex(tmp_path, "h")) is None and "no sureness between 0 and 1" in caplog.text


def test_the_shipped_demo_calibration_reads() -> None:
    from recommender.demo_index import DEMO_LOOK_CALIBRATION
    from recommender.look_calibration import read_calibration_file

    shipped = read_calibration_file(DEMO_LOOK_CALIBRATION)
    assert shipped is not None and 0.5 < shipped.whole_sure < 1 and len(shipped.weights) == 16
