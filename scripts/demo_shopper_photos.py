"""Make demo/shopper-photos.npz: what the demo's head learns from the clothing-small train photos.

Usage: python scripts/demo_shopper_photos.py [--photos ../shared/data/clothing-small/train]
                                             [--out demo/shopper-photos.npz] [--index DIR]

The photos (CC0 1.0, "clothing dataset" by Alexey Grigorev; licence in ../shared/data/clothing-small/LICENSE)
are indexed with the model the demo falls back to (the shipped MobileNetV2 TFLite), and each photo's
vector, colour histogram and category (its folder) are written to --out (recommender.shopper_photos).
--index reuses a raw index of those photos already built with that model (`python -m recommender build
--catalog ../shared/data/clothing-small/train --backbone models/mobilenet_v2_1.0_224_quant.tflite --out DIR`).
The same photos and model give the same file, up to compression.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.demo_index import DEMO_SHOPPER_PHOTOS  # noqa: E402
from recommender.index import Index  # noqa: E402
from recommender.model_spec import ModelSpec  # noqa: E402
from recommender.settings import Settings  # noqa: E402
from recommender.shopper_photos import model_key, write_shopper_photos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared/data/clothing-small/train")
    parser.add_argument("--out", type=Path, default=DEMO_SHOPPER_PHOTOS)
    parser.add_argument("--index", type=Path, help="a raw index of --photos by the demo's model, to reuse")
    args = parser.parse_args(argv)
    model = ModelSpec.parse(str(Settings.from_env().demo_model))
    with tempfile.TemporaryDirectory() as folder:
        index_dir = args.index
        if index_dir is None:
            from recommender.backbones import load_extractor
            from recommender.build import build_index
            from recommender.catalog import load_catalog

            if not args.photos.is_dir():
                print(f"No photos in {args.photos}: this script needs ../shared (see its README).", file=sys.stderr)
                return 2
            index_dir = Path(folder) / "photos"
            build_index(load_catalog(args.photos), index_dir, load_extractor(model), progress=sys.stderr.isatty())
        photos = Index.load(index_dir, ann=False)
        if model_key(photos.model) != model_key(model):
            print(f"{index_dir} was built with {photos.model.label}, not with the demo's {model.label}.",
                  file=sys.stderr)
            return 2
        count = write_shopper_photos(photos, args.out)
    print(f"wrote {count:,} photos to {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
