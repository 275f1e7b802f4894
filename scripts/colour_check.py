"""How often the demo's computed colour names the garment's colour, against colours labelled by hand.

Usage:
  python scripts/colour_check.py sheets --out /tmp/sheets   # the sample as numbered contact sheets, to label
  python scripts/colour_check.py score [--half tune|report|all]

The sample is 100 demo photos drawn with a fixed seed from the sorted ids of demo/catalogue; their
dominant garment colour, in the colour table's names (recommender/colours.py), was labelled by eye on
the contact sheets `sheets` draws, into demo/colour-labels.csv (in sample order). `score` computes each
photo's colour as the build does (the model-sized pixels, recommender.appearance) and prints the share
whose computed name is the label exactly, and the share in the label's colour family (Black, White,
Grey, Brown, Red, Pink, Purple, Blue, Green, Yellow, Orange). The first 50 of the sample ("tune") are
the ones the appearance settings were chosen on; the other 50 ("report") are what the README reports.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from recommender.appearance import colour_names, describe  # noqa: E402
from recommender.catalog import load_catalog  # noqa: E402
from recommender.colours import colour_family  # noqa: E402
from recommender.images import load_for_model  # noqa: E402

CATALOGUE = ROOT / "demo" / "catalogue"
LABELS = ROOT / "demo" / "colour-labels.csv"
SAMPLE, SEED, TUNE = 100, 16, 50
MODEL_SIZE = (224, 224)  # what the shipped MobileNetV2 sees, and so what the build describes
PER_SHEET, COLUMNS, CELL = 20, 5, 250


def sample() -> list[tuple[str, Path]]:
    """(id, image path) of the labelled sample, in sample order."""
    products = sorted(load_catalog(CATALOGUE).products, key=lambda p: p.id)
    return [(p.id, Path(p.image)) for p in random.Random(SEED).sample(products, SAMPLE)]


def sheets(out: Path) -> None:
    """Contact sheets of the sample: 20 numbered thumbnails each, numbered as the sample's order."""
    out.mkdir(parents=True, exist_ok=True)
    items = sample()
    for start in range(0, len(items), PER_SHEET):
        chunk = items[start : start + PER_SHEET]
        rows = -(-len(chunk) // COLUMNS)
        sheet = Image.new("RGB", (COLUMNS * CELL, rows * (CELL + 20)), "white")
        draw = ImageDraw.Draw(sheet)
        for i, (_, path) in enumerate(chunk):
            picture = Image.open(path).convert("RGB")
            picture.thumbnail((CELL - 10, CELL - 10))
            x, y = (i % COLUMNS) * CELL, (i // COLUMNS) * (CELL + 20)
            sheet.paste(picture, (x + 5, y + 20))
            draw.text((x + 5, y + 4), str(start + i + 1), fill="black")
        sheet.save(out / f"sheet-{start // PER_SHEET + 1}.png")
    print(f"{len(items)} photos on {-(-len(items) // PER_SHEET)} sheets in {out}")


def score(half: str) -> dict[str, float]:
    """Exact and family accuracy of the computed colour on one half of the labelled sample."""
    with open(LABELS, newline="", encoding="utf-8") as handle:
        labels = {row["id"]: row["colour"] for row in csv.DictReader(handle)}
    items = sample()
    chosen = {"tune": items[:TUNE], "report": items[TUNE:], "all": items}[half]
    pixels = np.stack([load_for_model(path, MODEL_SIZE) for _, path in chosen])
    names = [name for name, _ in colour_names(describe(pixels).colours)]
    truth = [labels[i] for i, _ in chosen]
    exact = float(np.mean([n == t for n, t in zip(names, truth)]))
    family = float(np.mean([colour_family(n) == colour_family(t) for n, t in zip(names, truth)]))
    return {"photos": len(chosen), "exact": exact, "family": family,
            "wrong": [f"{i[:8]} {t} -> {n}" for (i, _), t, n in zip(chosen, truth, names) if n != t]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("sheets").add_argument("--out", type=Path, required=True)
    scoring = commands.add_parser("score")
    scoring.add_argument("--half", choices=("tune", "report", "all"), default="report")
    scoring.add_argument("--wrong", action="store_true", help="list the photos whose colour is not the label")
    args = parser.parse_args(argv)
    if args.command == "sheets":
        sheets(args.out)
        return 0
    result = score(args.half)
    print(f"{args.half}: {result['photos']} photos, exact colour {result['exact']:.0%}, "
          f"colour family {result['family']:.0%}")
    if args.wrong:
        print("\n".join(result["wrong"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
