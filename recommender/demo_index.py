"""The demo index, made on first use, so `python app.py` works on a fresh clone with no network.

The demo catalogue is shipped in the repository (`demo/catalogue/`: 691 CC0 photos of real second-hand
clothes). It is indexed with the backbone the settings name (ResNet50 with ImageNet weights by
default); when those weights cannot be downloaded, with the pretrained MobileNetV2 TFLite extractor
shipped in `models/`, so the first run ranks with a real model rather than random weights. Random
weights are used only when asked for (RECOMMENDER_WEIGHTS=none).

With real weights a head is then trained on the catalogue's own labels (category, its rarer kinds weighed up,
and age; its colours are computed, not labels) and on three street-like views of each photo (`recommender.street_views`),
as `python -m recommender views` and `train --views` would: ImageNet features alone find a
photo's garment type for shoes and trousers but not for dresses, which a head trained on these 691
labelled photos tells apart. It also learns from 3,068 shoppers' photos of clothing-small's train folders
(`demo/shopper-photos.npz`, `recommender.shopper_photos`): 691 photos of one kind teach a head little about
the photos a shopper uploads. The backbone's index is kept beside it (`demo-index-backbone`).

The shipped names ("Dress (Kids) 95d51b57") say nothing a shopper would type, so the build names each
product from its category, its age and the colour computed from its photo: "Black dress, kids".
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from recommender.appearance import APPEARANCE_VERSION
from recommender.atomic import write_text_atomic
from recommender.errors import IndexFormatError, WeightsUnavailable
from recommender.manifest import FORMAT_VERSION, Holdout, read_manifest
from recommender.model_spec import ModelSpec
from recommender.roles import Roles
from recommender.settings import PROJECT_ROOT, Settings
from recommender.street_views import ViewSettings
from recommender.training import TrainSettings

if TYPE_CHECKING:
    from recommender.backbones import Extractor
    from recommender.catalog import Catalog

__all__ = ["ensure_demo_index", "demo_models", "demo_name", "demo_views", "train_demo_head", "DEMO_TRAINING",
           "DEMO_VIEW_SETTINGS", "DEMO_SHOPPER_PHOTOS"]

DEMO_VIEWS = 3  # street-like views of each photo the head also learns from: chosen on clothing-small train photos
DEMO_VIEW_SETTINGS = ViewSettings()  # how far the views vary (scripts/tune_demo.py)
# the demo head's training: its rarer kinds (19 skirts, 22 hats beside 50 dresses) balanced, a shopper's photo
# weighing 8 demo photos, chosen by scripts/tune_demo.py on held-out clothing-small train photos (README)
DEMO_TRAINING = TrainSettings(class_balance=1.0, photo_weight=8.0)
# shoppers' photos the head also learns from (scripts/demo_shopper_photos.py), and what their folders mean here
DEMO_SHOPPER_PHOTOS = PROJECT_ROOT / "demo" / "shopper-photos.npz"
DEMO_LABEL_MAP = PROJECT_ROOT / "demo" / "clothing-small-label-map.csv"
# the demo head's own product-shot threshold for shop the look (recommender.look_calibration), measured by
# scripts/calibrate_looks.py on the dev looks, which do not ship; it holds only for the head it was measured on
DEMO_LOOK_CALIBRATION = PROJECT_ROOT / "demo" / "look-calibration.json"
DEMO_PHOTOS_KNOWN: dict[str, str] = {}  # what every shopper's photo is taken to be beyond its kind (age: none)
DEMO_PHOTOS_KNOWN_WEIGHT = 1.0  # how much that counts against the photo's kind (PhotoTargets.known_weight)


def demo_name(attributes: Mapping[str, str]) -> str:
    """"Black dress, kids": a demo product's colour (computed from its photo), category and age."""
    roles = Roles.of(attributes)
    category = attributes.get(roles.category or "", "")
    words = [attributes.get(roles.colour or "", "").capitalize(), category.lower()]
    name = " ".join(w for w in words if w) or "Product"
    name = name[0].upper() + name[1:]
    age = attributes.get("age", "").lower()
    return f"{name}, {age}" if age else name


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialise demo set-up across processes (e.g. several gunicorn workers starting at once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def demo_models(settings: Settings) -> tuple[ModelSpec, ModelSpec | None]:
    """The model asked for, and the shipped extractor to fall back to (None when asked for random weights)."""
    wanted = ModelSpec.parse(settings.backbone, settings.weights)
    if wanted.random or wanted.is_tflite:
        return wanted, None
    return wanted, ModelSpec.parse(str(settings.demo_model))


def _fallback_notice(settings: Settings, exc: WeightsUnavailable) -> str:
    """Why the demo uses the shipped extractor, in the app's terms (environment variables, not CLI flags)."""
    if settings.weights.lower() == "imagenet":
        why = f"The ImageNet weights for {settings.backbone} cannot be downloaded (no network?)"
    else:
        why = str(exc).rstrip(".")
    return (f"{why}, so the demo index is built with the pretrained MobileNetV2 extractor shipped in "
            f"{settings.demo_model.parent.name}/ instead; for another model set RECOMMENDER_WEIGHTS=PATH.h5 or "
            "RECOMMENDER_BACKBONE=PATH.tflite, or serve your own index: python app.py --index DIR.")


def ensure_demo_index(settings: Settings) -> Path:
    """The demo index: built from the shipped catalogue, or reused when it is current for the model asked for."""
    from recommender.catalog import load_catalog

    with _exclusive(settings.demo_index.parent / f".{settings.demo_index.name}.lock"):
        catalog = load_catalog(settings.demo_catalog)
        wanted, fallback = demo_models(settings)
        try:
            manifest = read_manifest(settings.demo_index)
        except IndexFormatError:
            manifest = None
        # an older format, colours computed by an older definition, or built before names were generated: rebuilt
        current = manifest is not None and manifest.format_version == FORMAT_VERSION \
            and manifest.appearance_version == APPEARANCE_VERSION and Roles.of(manifest.computed).name is not None
        if current and manifest.catalog.fingerprint == catalog.fingerprint():
            model = manifest.model.without_head()
            trained = wanted.random or (manifest.model.head is not None and _recipe_is_current(settings))
            if trained and (model.compatible(wanted) or (fallback is not None and model.compatible(fallback))):
                return _finished(settings.demo_index)

        from recommender.backbones import load_extractor  # imports TensorFlow: only when building
        from recommender.build import build_index

        try:
            extractor = load_extractor(wanted)
        except WeightsUnavailable as exc:
            if fallback is None:
                raise
            print(_fallback_notice(settings, exc), file=sys.stderr)
            extractor = load_extractor(fallback)
        if extractor.spec.random:  # nothing to learn from random features: serve them as built
            build_index(catalog, settings.demo_index, extractor, progress=sys.stderr.isatty(), name=demo_name)
            return _finished(settings.demo_index)
        backbone_index = settings.demo_index.with_name(f"{settings.demo_index.name}-backbone")
        build_index(catalog, backbone_index, extractor, progress=sys.stderr.isatty(), name=demo_name)
        views_index = demo_views(catalog, extractor, settings.demo_index.with_name(f"{settings.demo_index.name}-views"))
        train_demo_head(backbone_index, views_index, settings.demo_index)
        write_text_atomic(_recipe_file(settings), demo_recipe())
        return _finished(settings.demo_index, built=True)


def _finished(index_dir: Path, built: bool = False) -> Path:
    """The demo index with its map and its head's look calibration (said when a new head cannot have it)."""
    from recommender.head import read_head
    from recommender.look_calibration import CALIBRATION_FILE, read_calibration_file

    head = read_manifest(index_dir).model.head
    present = read_calibration_file(index_dir / CALIBRATION_FILE)
    if head is not None and (present is None or present.head != head):
        if not _with_calibration(index_dir, head, read_head(index_dir).weights_id) and built:
            print(f"This demo head is not the one {DEMO_LOOK_CALIBRATION.name} was measured on (another recipe or "
                  "machine): shop the look takes a photo as one product at the default sureness 0.97; "
                  "scripts/calibrate_looks.py measures this head's own.", file=sys.stderr)
    return _with_map(index_dir)


def _with_calibration(index_dir: Path, head: str, weights: str) -> bool:
    """The shipped look calibration put beside the index when it was measured on a head of these weights (training
    is seeded: the same recipe on the same kind of machine learns the same weights; the head's id also names the
    clone's model path, so it is rewritten to this index's); whether it was."""
    from recommender.look_calibration import read_calibration_file, write_calibration

    measured = read_calibration_file(DEMO_LOOK_CALIBRATION)
    if measured is None or not measured.weights or measured.weights != weights:
        return False
    write_calibration(index_dir, replace(measured, head=head))
    return True


def _with_map(index_dir: Path) -> Path:
    """The demo index with its map: made once (seconds for 691 photos), also for a demo built before maps."""
    import numpy as np

    from recommender.catalogue_map import read_map, write_map
    from recommender.errors import RecommenderError

    vectors = np.load(index_dir / "vectors.npy", mmap_mode="r")
    try:
        read_map(index_dir, vectors)
    except RecommenderError:
        write_map(index_dir, vectors)
    return index_dir


def demo_recipe() -> str:
    """How the demo's head is made (views and training settings, the shoppers' photos and the label map that says
    what their folders are): a demo index made another way is trained again."""
    photos, label_map = (_digest(path) for path in (DEMO_SHOPPER_PHOTOS, DEMO_LABEL_MAP))
    return (f"views {DEMO_VIEWS} {DEMO_VIEW_SETTINGS}; training {DEMO_TRAINING}; shoppers' photos {photos} "
            f"{DEMO_PHOTOS_KNOWN} labelled by {label_map}\n")


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "none"


def _recipe_file(settings: Settings) -> Path:
    return settings.demo_index.with_name(f"{settings.demo_index.name}.recipe")


def _recipe_is_current(settings: Settings) -> bool:
    try:
        return _recipe_file(settings).read_text(encoding="utf-8") == demo_recipe()
    except OSError:  # none yet: a head made before the recipe was recorded
        return False


def demo_views(catalog: Catalog, extractor: Extractor, folder: Path, per_product: int = DEMO_VIEWS,
               settings: ViewSettings = DEMO_VIEW_SETTINGS) -> Path:
    """Street-like views of every demo photo (`per_product` each), indexed by the demo's model in `folder`/index:
    691 photos are few for a head, and views of them teach it what a garment looks like worn, framed badly or
    half hidden."""
    from recommender.build import build_index
    from recommender.catalog import load_catalog
    from recommender.view_catalog import write_views

    print(f"making {per_product} street-like views of each demo photo to train on (about a minute on 2 cores)...",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    made = write_views(catalog, catalog.products, folder / "catalogue", per_product=per_product, seed=0,
                       workers=os.cpu_count() or 1, progress=sys.stderr.isatty(), settings=settings)
    print(f"made {made:,} street-like views in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    build_index(load_catalog(folder / "catalogue"), folder / "index", extractor, progress=sys.stderr.isatty(),
                noun="training views")
    return folder / "index"


def train_demo_head(backbone_index: Path, views_index: Path, out: Path, settings: TrainSettings = DEMO_TRAINING,
                    shopper_photos: Path | None = DEMO_SHOPPER_PHOTOS, photos_held: Holdout | None = None,
                    photos_known: Mapping[str, str] = DEMO_PHOTOS_KNOWN,
                    photos_known_weight: float = DEMO_PHOTOS_KNOWN_WEIGHT) -> None:
    """The demo's head, on all of its labelled photos, their views and the shipped shoppers' photos (none
    held out: nothing is scored on the demo; scripts/tune_demo.py chose its settings on other photos,
    holding out the share `photos_held` of the shoppers' photos)."""
    from recommender.index import Index
    from recommender.label_map import read_label_map
    from recommender.shopper_photos import shopper_photo_targets
    from recommender.trained_index import train_index

    print("training the demo's head on its catalogue's labels...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    backbone = Index.load(backbone_index, ann=False)
    photos = None if shopper_photos is None else \
        shopper_photo_targets(shopper_photos, backbone, read_label_map(DEMO_LABEL_MAP), photos_held, sys.stderr,
                              dict(photos_known), balance=settings.photo_balance, known_weight=photos_known_weight)
    train_index(backbone, out, views=Index.load(views_index, ann=False), holdout=Holdout(0.0, 0), settings=settings,
                progress=sys.stderr.isatty(), log=sys.stderr, photo_rows=photos)
    print(f"trained the demo's head in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
