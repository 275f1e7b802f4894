"""Settings from the environment: defaults, overrides, and a bad value as one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.errors import RecommenderError
from recommender.settings import Settings


def test_environment_then_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECOMMENDER_INDEX", str(tmp_path / "env-index"))
    monkeypatch.setenv("RECOMMENDER_MAX_UPLOAD_MB", "2.5")
    settings = Settings.from_env(index=tmp_path / "flag-index", weights=None)
    assert settings.index == tmp_path / "flag-index"  # an explicit override beats the environment
    assert settings.max_upload_bytes == int(2.5 * 1024 * 1024)
    assert settings.weights == "imagenet"  # None overrides nothing


@pytest.mark.parametrize("value", ["ten", "0", "-3", "nan", "inf"])
def test_a_bad_upload_limit_is_one_sentence(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RECOMMENDER_MAX_UPLOAD_MB", value)
    with pytest.raises(RecommenderError, match=r"^RECOMMENDER_MAX_UPLOAD_MB must be a number of megabytes above 0"):
        Settings.from_env()
