"""Development ground truth for shop the look, made from a Kaggle-layout catalogue: looks with known boxes.

Format (what `evaluate --looks DIR` reads): `DIR/images/*.jpg` and `DIR/garments.csv` with the header
`image,class,x0,y0,x1,y1`, one row per garment, the box in the image's pixels, the class the
catalogue's category value (articleType). A photo of one product has one row, its whole picture.

Each look is a scene of 600 x 800 px: a cluttered random background (a gradient, blurred blocks,
noise) and, laid out like a person, a top and bottoms (or a dress), shoes, and sometimes a hat and a
bag; each garment is a catalogue shot whose light background is cut away (pixels near the border's
colour), enlarged to a garment's size and pasted; its box is what stays visible of it (later
garments may cover it). One look in five is a single catalogue shot, enlarged, boxed whole.
Only products the trained head never saw (the index's held-out split) are used; the `dev` and
`test` splits take disjoint products (by the parity of a hash of the id), so settings chosen on
`dev` are reported on `test`. The same seed makes the same set.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from recommender.atomic import atomic_write, write_text_atomic
from recommender.catalog import Product
from recommender.errors import RecommenderError
from recommender.garment_kinds import GARMENT_KINDS

__all__ = ["SLOTS", "LookGarment", "make_looks", "read_looks", "GARMENTS_CSV"]

GARMENTS_CSV = "garments.csv"
SIZE = (600, 800)
SINGLE_SHARE = 0.2
MIN_VISIBLE = 0.4  # a garment less visible than this share of its pasted pixels is left out of the truth
# Kaggle subCategory -> the slot (garment kind) it takes on a person; shots of sarees and sets show several garments
SLOTS = {sub: kind for sub, kind in GARMENT_KINDS.items() if sub not in ("Saree", "Apparel Set")}


@dataclass(frozen=True)
class LookGarment:
    image: str
    category: str
    box: tuple[int, int, int, int]  # pixels: x0, y0, x1, y1


def _split_of(product_id: str) -> str:
    return "dev" if hashlib.sha256(product_id.encode()).digest()[0] % 2 == 0 else "test"


def _background(rng: np.random.Generator) -> Image.Image:
    width, height = SIZE
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = np.broadcast_to(a * (1 - ramp) + b * ramp, (height, width, 3)).copy()
    for _ in range(int(rng.integers(3, 9))):  # furniture, walls, street: blocks of other colours
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        x1, y1 = int(rng.integers(x0 + 40, width + 1)), int(rng.integers(y0 + 40, height + 1))
        pixels[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))
    noise = rng.normal(0.0, 8.0, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def _cut_out(shot: Image.Image) -> Image.Image:
    """The shot with its light background made transparent (alpha from the distance to the border colour)."""
    pixels = np.asarray(shot.convert("RGB"), dtype=np.int16)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    away = np.abs(pixels - np.median(border, axis=0)).max(axis=2) > 18
    mask = Image.fromarray((away * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.MinFilter(3))
    cut = shot.convert("RGBA")
    cut.putalpha(mask)
    return cut


def _layout(rng: np.random.Generator) -> list[tuple[str, float, float, float]]:
    """(slot, centre x, top y, width) in fractions of the scene, drawn like a standing person, back to front."""
    cx = 0.5 + rng.uniform(-0.08, 0.08)
    body = [("hat", cx + rng.uniform(-0.03, 0.03), rng.uniform(0.0, 0.04), rng.uniform(0.2, 0.26))] \
        if rng.random() < 0.35 else []
    top = rng.uniform(0.1, 0.16)
    if rng.random() < 0.25:
        body.append(("dress", cx, top, rng.uniform(0.42, 0.5)))
    else:
        body.append(("bottoms", cx + rng.uniform(-0.02, 0.02), top + rng.uniform(0.34, 0.38), rng.uniform(0.32, 0.38)))
        body.append(("top", cx, top, rng.uniform(0.4, 0.48)))
    body.append(("shoes", cx + rng.uniform(-0.05, 0.05), rng.uniform(0.75, 0.8), rng.uniform(0.2, 0.26)))
    if rng.random() < 0.4:
        side = 0.17 if rng.random() < 0.5 else 0.83
        body.append(("bag", side + rng.uniform(-0.04, 0.04), rng.uniform(0.35, 0.5), rng.uniform(0.24, 0.3)))
    return body


def _compose(rng: np.random.Generator, picks: list[tuple[str, Product, float, float, float]]
             ) -> tuple[Image.Image, list[tuple[str, tuple[int, int, int, int]]]]:
    scene = _background(rng)
    width, height = SIZE
    owner = np.full((height, width), -1, dtype=np.int32)
    pasted: list[int] = []
    for number, (_, product, cx, top, share) in enumerate(picks):
        with Image.open(product.image) as shot:
            cut = _cut_out(shot)
        w = int(share * width)
        h = int(w * cut.height / cut.width)
        cut = cut.resize((w, h), Image.Resampling.BICUBIC)
        x, y = int(cx * width - w / 2), int(top * height)
        scene.paste(cut, (x, y), cut)
        alpha = np.zeros((height, width), dtype=bool)
        visible = np.asarray(cut.getchannel("A")) > 127
        ys, xs = slice(max(y, 0), min(y + h, height)), slice(max(x, 0), min(x + w, width))
        alpha[ys, xs] = visible[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
        owner[alpha] = number
        pasted.append(int(alpha.sum()))
    boxes = []
    for number, (_, product, *_rest) in enumerate(picks):
        ys, xs = np.nonzero(owner == number)
        if len(xs) and len(xs) >= MIN_VISIBLE * pasted[number]:
            boxes.append((product.attributes["articleType"],
                          (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)))
    return scene, boxes


def make_looks(products: list[Product], out: Path, count: int, seed: int, split: str) -> int:
    """Write `count` looks of the `split` ("dev" or "test") products into `out`; the rows written."""
    pools: dict[str, list[Product]] = {}
    for product in products:
        slot = SLOTS.get(product.attributes.get("subCategory", ""))
        if slot and product.attributes.get("articleType") and _split_of(product.id) == split:
            pools.setdefault(slot, []).append(product)
    missing = sorted({"top", "bottoms", "shoes"} - set(pools))
    if missing:
        raise RecommenderError(f"The catalogue has no held-out {', '.join(missing)} products to dress a look in.")
    rng = np.random.default_rng([seed, 0 if split == "dev" else 1])
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows: list[LookGarment] = []
    for number in range(count):
        name = f"look-{split}-{number:04d}.jpg"
        if rng.random() < SINGLE_SHARE:
            slot = str(rng.choice(sorted(pools)))
            product = pools[slot][int(rng.integers(len(pools[slot])))]
            with Image.open(product.image) as shot:
                scene = shot.convert("RGB").resize((360, 480), Image.Resampling.BICUBIC)
            truth = [(product.attributes["articleType"], (0, 0, 360, 480))]
        else:
            picks = [(slot, pools[slot][int(rng.integers(len(pools[slot])))], cx, top, share)
                     for slot, cx, top, share in _layout(rng) if slot in pools]
            scene, truth = _compose(rng, picks)
        with atomic_write(out / "images" / name, "wb") as handle:
            scene.save(handle, "JPEG", quality=90)
        rows += [LookGarment(name, category, box) for category, box in truth]
    lines = ["image,class,x0,y0,x1,y1"] + [_csv_line(row) for row in rows]
    write_text_atomic(out / GARMENTS_CSV, "\n".join(lines) + "\n")
    return len(rows)


def _csv_line(row: LookGarment) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([row.image, row.category, *row.box])
    return buffer.getvalue()


def read_looks(folder: Path) -> dict[str, list[LookGarment]]:
    """image name -> its garments, from `folder/garments.csv`; a sentence for a file not in the format."""
    path = Path(folder) / GARMENTS_CSV
    if not path.is_file():
        raise RecommenderError(f"There is no {GARMENTS_CSV} in {folder}: a looks folder holds images/ and "
                               f"{GARMENTS_CSV} (image,class,x0,y0,x1,y1).")
    looks: dict[str, list[LookGarment]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["image", "class", "x0", "y0", "x1", "y1"]:
            raise RecommenderError(f"{path} must start with the header image,class,x0,y0,x1,y1.")
        for line, row in enumerate(reader, start=2):
            try:
                box = tuple(int(row[key]) for key in ("x0", "y0", "x1", "y1"))
            except (TypeError, ValueError):
                raise RecommenderError(f"Line {line} of {path} has a box that is not four whole numbers.") from None
            if not (row["image"] and row["class"]) or box[2] <= box[0] or box[3] <= box[1]:
                raise RecommenderError(f"Line {line} of {path} needs an image, a class and a box with x0 < x1, y0 < y1.")
            looks.setdefault(row["image"], []).append(LookGarment(row["image"], row["class"], box))
    return looks
