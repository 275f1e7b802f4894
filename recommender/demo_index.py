"""The demo index, made on first use, so `python app.py` works on a fresh clone."""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recommender.errors import IndexFormatError, WeightsUnavailable
from recommender.index_format import read_manifest
from recommender.model_spec import ModelSpec
from recommender.settings import Settings

__all__ = ["ensure_demo_index"]


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise demo set-up across processes (e.g. several gunicorn workers starting at once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _fallback_notice(settings: Settings, exc: WeightsUnavailable) -> str:
    """Why the demo runs on random weights, in the app's terms (environment variables, not CLI flags)."""
    if settings.weights.lower() == "imagenet":
        why = f"The ImageNet weights for {settings.backbone} cannot be downloaded (no network?)"
    else:
        why = str(exc).rstrip(".")
    return (f"{why}, so the demo index is built with random weights and its ranking is not meaningful; for real "
            "weights set RECOMMENDER_WEIGHTS=PATH.h5 or RECOMMENDER_BACKBONE=PATH.tflite, or serve an index built "
            "with a TFLite extractor: python app.py --index DIR.")


def ensure_demo_index(settings: Settings) -> Path:
    """The demo index: demo catalogue written if missing, index built or reused when current."""
    from recommender.catalog import load_catalog
    from recommender.demo import write_demo_catalog

    with _exclusive(settings.demo_index.parent / f".{settings.demo_index.name}.lock"):
        if not (settings.demo_catalog / "styles.csv").exists():
            write_demo_catalog(settings.demo_catalog)
        catalog = load_catalog(settings.demo_catalog)
        wanted = ModelSpec.parse(settings.backbone, settings.weights)
        try:
            manifest = read_manifest(settings.demo_index)
        except IndexFormatError:
            manifest = None
        if manifest is not None and manifest.catalog.fingerprint == catalog.fingerprint():
            offline = ModelSpec(wanted.backbone, "none")  # what an offline first run fell back to
            if manifest.model.compatible(wanted) or manifest.model.compatible(offline):
                return settings.demo_index

        from recommender.backbones import load_extractor  # imports TensorFlow: only when building
        from recommender.build import build_index

        try:
            extractor = load_extractor(wanted)
        except WeightsUnavailable as exc:
            print(_fallback_notice(settings, exc), file=sys.stderr)
            extractor = load_extractor(ModelSpec(wanted.backbone, "none"))
        build_index(catalog, settings.demo_index, extractor, progress=sys.stderr.isatty())
        return settings.demo_index
