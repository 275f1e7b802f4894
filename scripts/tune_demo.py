"""Choose the demo head's training and ranking settings on photos the demo is never scored on.

Usage:
  python -m recommender build --catalog ../shared/data/clothing-small/train \
      --backbone models/mobilenet_v2_1.0_224_quant.tflite --out embeddings/clothing-train-v2
  python scripts/tune_demo.py --photos embeddings/clothing-train-v2 --views 3 6 --balance 0 0.5 1 \
      [--sharpness 2 4] [--category-first 0.5 off] [--epochs 20] [--photo-weight 0 1 4] [--held 0.25] \
      [--group-cosine 0.85|off]
  python scripts/tune_demo.py --photos embeddings/clothing-train-v2 --nearest embeddings/clothing-validation-v2

For each number of street-like views per demo photo, class balance and epoch count, a demo head is trained as
`recommender.demo_index` trains it (views made once per count into --cache), and every photo of the --photos
index (a raw index of labelled shoppers' photos, by the demo's backbone: clothing-small *train*, never the
validation photos that scripts/demo_check.py reports) queries the trained demo index under each ranking
setting, as an upload would (its backbone vector and colours through the head, then the Ranker). Printed per
setting: the share of each kind's ten results that are its own kind, the six target kinds' mean and worst.

The head also learns from the shipped shoppers' photos (demo/shopper-photos.npz: the same clothing-small train
photos) weighed by --photo-weight (0: without them); the share --held of them (chosen by hashing, seed
--held-seed) is left out of its training, and only those photos are scored. Look-alike photos (backbone cosine
>= --group-cosine, joined transitively: the same garment or setting shot again) fall on the same side, so that
a held photo's twin does not teach the head its answer (off: each photo hashed on its own, the split before
issue 16's skirt check).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.catalog import load_catalog  # noqa: E402
from recommender.demo_index import (DEMO_PHOTOS_KNOWN, DEMO_PHOTOS_KNOWN_WEIGHT, DEMO_SHOPPER_PHOTOS, DEMO_TRAINING, DEMO_VIEW_SETTINGS, DEMO_VIEWS,  # noqa: E402
                                    demo_views, train_demo_head)
from recommender.index import Index  # noqa: E402
from recommender.manifest import Holdout  # noqa: E402
from recommender.ranking import Ranker, RankingSettings  # noqa: E402
from recommender.vectors import unit_rows  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from demo_check import AGE, KINDS, TARGET_KINDS  # noqa: E402

ADULTS_FIRST = "adults first"
GROUP_COSINE = 0.85  # clothing-small train: 296 of 3,068 photos in 74 groups, the largest 43 (0.8: one of 194)


@dataclass(frozen=True)
class GroupedHoldout(Holdout):
    """A Holdout that hashes each photo's group instead of the photo: a group is held out whole or not at all."""

    groups: Mapping[str, str] = field(default_factory=dict, compare=False)  # photo id -> its group's first id

    def contains(self, product_id: str) -> bool:
        return super().contains(self.groups.get(product_id, product_id))


def lookalike_groups(photos: Index, cosine: float) -> dict[str, str]:
    """Photo id -> the first id of its group: photos whose backbone vectors reach `cosine`, joined transitively
    (scipy's connected components), so near-duplicates and their chains share one group."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    vectors = unit_rows(np.asarray(photos.vectors, np.float32))
    a, b = np.nonzero(np.triu(vectors @ vectors.T >= cosine, k=1))
    n = len(photos.ids)
    _, group = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    first = {g: photos.ids[i] for i, g in reversed(list(enumerate(group)))}
    return {photo: first[g] for photo, g in zip(photos.ids, group)}


def views_index(backbone: Index, count: int, aspect: float, cache: Path, shipped: Path) -> Path:
    """The index of `count` views of each demo photo, their shape changed by up to `aspect`: the demo's own
    when it has them, else made once into `cache`."""
    settings = replace(DEMO_VIEW_SETTINGS, aspect=aspect)
    if count == DEMO_VIEWS and settings == DEMO_VIEW_SETTINGS and (shipped / "manifest.json").exists():
        return shipped
    folder = cache / f"demo-views-{count}-aspect{aspect}"
    if not (folder / "index" / "manifest.json").exists():
        from recommender.backbones import load_extractor

        demo_views(load_catalog(backbone.manifest.catalog.path), load_extractor(backbone.model), folder, count,
                   settings)
    return folder / "index"


def own_kind_shares(trained: Path, photos: Index, ranking: RankingSettings, rows: np.ndarray) -> dict[str, float]:
    """Per clothing-small kind, the mean share of a photo's ten results (trained demo index) of its own kind,
    over the photos `rows` of `photos`; under ADULTS_FIRST, the share of the target kinds' photos whose first
    result is an adults' item (they have no age label, but nearly all show adults' garments: 175 of the 180
    validation photos labelled by eye)."""
    index = Index.load(trained, ann=False)
    ranker = Ranker(index, ranking)
    raw = unit_rows(np.asarray(photos.vectors)[rows])
    colours = np.asarray(photos.appearance.colours, np.float32)[rows]
    vectors = unit_rows(index.head.embed(raw, colours))
    _, positions, _ = ranker.rank(vectors, colours, 10)
    category = index.roles.category
    shares: dict[str, list[float]] = {}
    adults_first: list[bool] = []
    for product, row in zip([photos.products[i] for i in rows], positions):
        kind = product.attributes.get("category", "")
        if kind in KINDS:
            found = Counter(index.products[p].attributes[category] for p in row if p >= 0)
            shares.setdefault(kind, []).append(found[KINDS[kind]] / 10)
            if kind in list(KINDS)[:TARGET_KINDS]:
                adults_first.append(index.products[row[0]].attributes.get(AGE) == "Adults")
    return {**{kind: float(np.mean(shares[kind])) for kind in KINDS if kind in shares},
            ADULTS_FIRST: float(np.mean(adults_first))}


def nearest_trained(photos: Index, trained: np.ndarray, others: Index | None) -> None:
    """Prints how near each held-out photo (and each photo of `others`, e.g. the validation photos) is to its
    nearest trained photo, by backbone cosine: a split that leaks twins shows its held photos nearer."""
    vectors = unit_rows(np.asarray(photos.vectors, np.float32))
    sets = {"held-out photos": (vectors[~trained], photos.products, ~trained)}
    if others is not None:
        sets["other photos"] = (unit_rows(np.asarray(others.vectors, np.float32)), others.products, slice(None))
    for name, (queries, products, rows) in sets.items():
        nearest = (queries @ vectors[trained].T).max(axis=1)
        kinds = np.array([p.attributes.get("category", "") for p in products])[rows]
        skirts = nearest[kinds == "skirt"]
        print(f"{name} ({len(nearest):,}), cosine to the nearest trained photo: mean {nearest.mean():.3f}, median "
              f"{np.median(nearest):.3f}, >= 0.90 {np.mean(nearest >= 0.9):.1%}, "
              f">= 0.85 {np.mean(nearest >= 0.85):.1%}; "
              f"skirts ({len(skirts)}) mean {skirts.mean() if len(skirts) else float('nan'):.3f}")


def _number_or_off(text: str) -> float | None:
    return None if text.lower() == "off" else float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, required=True, help="raw index of labelled photos (clothing-small train)")
    parser.add_argument("--backbone-index", type=Path, default=ROOT / "embeddings/demo-index-backbone")
    parser.add_argument("--cache", type=Path, default=ROOT / "embeddings/tune-demo")
    parser.add_argument("--views", type=int, nargs="+", default=[DEMO_VIEWS])
    parser.add_argument("--aspect", type=float, nargs="+", default=[DEMO_VIEW_SETTINGS.aspect],
                        help="the views' shape change (ViewSettings.aspect)")
    parser.add_argument("--balance", type=float, nargs="+", default=[DEMO_TRAINING.class_balance])
    parser.add_argument("--epochs", type=int, nargs="+", default=[DEMO_TRAINING.epochs])
    parser.add_argument("--sharpness", type=float, nargs="+", default=[RankingSettings().mix_sharpness])
    parser.add_argument("--category-first", type=_number_or_off, nargs="+", default=[RankingSettings().category_first])
    parser.add_argument("--photo-weight", type=float, nargs="+", default=[DEMO_TRAINING.photo_weight],
                        help="the shoppers' photos' weight (0: the head learns without them)")
    parser.add_argument("--photo-balance", type=float, nargs="+", default=[DEMO_TRAINING.photo_balance],
                        help="a shopper's photo of a kind with n photos weighs n^-B (TrainSettings.photo_balance)")
    parser.add_argument("--held", type=float, default=0.25, help="share of the shoppers' photos held out and scored")
    parser.add_argument("--held-seed", type=int, default=16)
    parser.add_argument("--group-cosine", type=_number_or_off, default=GROUP_COSINE,
                        help="look-alike photos (backbone cosine at least this) are held out together (off: per photo)")
    parser.add_argument("--nearest", type=Path, nargs="?", const=True, default=None, metavar="INDEX",
                        help="only print how near the held-out photos (and INDEX's, a raw index of other photos by "
                             "the same backbone) are to their nearest trained photo")
    parser.add_argument("--photo-age", nargs="+", default=[DEMO_PHOTOS_KNOWN.get(AGE, "none")],
                        help="the age every shopper's photo is taken to have (none: no age, its loss masked)")
    parser.add_argument("--photo-age-weight", type=float, nargs="+", default=[DEMO_PHOTOS_KNOWN_WEIGHT],
                        help="that age's loss against the photo's kind (PhotoTargets.known_weight)")
    args = parser.parse_args(argv)

    backbone = Index.load(args.backbone_index, ann=False)
    photos = Index.load(args.photos, ann=False)
    shipped = args.backbone_index.with_name(args.backbone_index.name.replace("-backbone", "-views")) / "index"
    targets = list(KINDS)[:TARGET_KINDS]
    held = (Holdout(args.held, args.held_seed) if args.group_cosine is None
            else GroupedHoldout(args.held, args.held_seed, lookalike_groups(photos, args.group_cosine)))
    scored = np.flatnonzero(held.mask(photos.ids)) if args.held else np.arange(len(photos))
    if args.nearest is not None:
        nearest_trained(photos, ~held.mask(photos.ids),
                        None if args.nearest is True else Index.load(args.nearest, ann=False))
        return 0
    print(f"scoring {len(scored):,} of {len(photos):,} photos (look-alikes grouped at cosine {args.group_cosine})")
    print("views aspect balance epochs photos pbal age x weight sharpness first | " + " ".join(f"{k[:6]:>6}" for k in KINDS) + " | target mean, worst; adults first")
    for count, aspect, balance, epochs, weight, pbal, age, age_weight in itertools.product(
            args.views, args.aspect, args.balance, args.epochs, args.photo_weight, args.photo_balance, args.photo_age,
            args.photo_age_weight):
        views = views_index(backbone, count, aspect, args.cache, shipped)
        with tempfile.TemporaryDirectory() as folder:
            started = time.monotonic()
            train_demo_head(args.backbone_index, views, Path(folder) / "demo",
                            replace(DEMO_TRAINING, class_balance=balance, epochs=epochs, photo_weight=weight or 1.0,
                                    photo_balance=pbal),
                            DEMO_SHOPPER_PHOTOS if weight else None, held if args.held else None,
                            {} if age == "none" else {AGE: age}, age_weight)
            seconds = time.monotonic() - started
            for sharpness, first in itertools.product(args.sharpness, args.category_first):
                ranking = RankingSettings.from_env(mix_sharpness=sharpness, category_first=first)
                shares = own_kind_shares(Path(folder) / "demo", photos, ranking, scored)
                wanted = [shares[k] for k in targets]
                print(f"{count:5} {aspect:6} {balance:7} {epochs:6} {weight:6} {pbal:4} {age[:3]:3}x{age_weight:<5} {sharpness:9} {first!s:5} | "
                      + " ".join(f"{shares.get(k, float('nan')):6.0%}" for k in KINDS)
                      + f" | {np.mean(wanted):.0%}, {min(wanted):.0%}; {shares[ADULTS_FIRST]:.0%} "
                      f"(trained in {seconds:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
