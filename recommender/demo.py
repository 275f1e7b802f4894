"""A synthetic catalogue in the Kaggle layout, drawn by our own code.

Why: the app and most tests need a catalogue that ships with the project (the Kaggle set cannot
be redistributed). Each image is a product shot like the Kaggle ones: one garment silhouette,
centred on a near-white background, 120x160 px. Article types, colours and genders use the Kaggle
names so filters and reports work the same on the demo as on the real data. Everything comes from
one seeded random generator, so the same seed writes byte-identical files.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from recommender.atomic import write_text_atomic
from recommender.colours import BASE_COLOURS
from recommender.errors import CatalogError

__all__ = ["write_demo_catalog", "DEMO_COLOURS", "ARTICLES"]

WIDTH, HEIGHT = 120, 160
SUPERSAMPLE = 2  # drawn at 2x and reduced: smooth edges without a slow filter
MARKER = ".demo-catalog"  # says a folder holds our output, so rewriting it loses no one's data
COLUMNS = (
    "id", "gender", "masterCategory", "subCategory", "articleType",
    "baseColour", "season", "year", "usage", "productDisplayName",
)  # fmt: skip
DEMO_COLOURS = (
    "Black", "White", "Blue", "Navy Blue", "Red", "Green", "Pink", "Grey",
    "Brown", "Yellow", "Beige", "Maroon", "Purple", "Olive", "Orange", "Teal",
)  # fmt: skip
BRANDS = (
    "Northwind", "Bluebird", "Fernwood", "Harbor Lane", "Mapleton",
    "Stonebridge", "Kestrel", "Juniper", "Oakridge", "Silverline",
)  # fmt: skip
SEASONS = ("Summer", "Fall", "Winter", "Spring")
PATTERN_WORDS = {"solid": "Solid", "stripes": "Striped", "checks": "Checked", "dots": "Polka Dot"}

RGB = tuple[int, int, int]
Point = tuple[float, float]


class Pen:
    """Draws in unit coordinates of a garment's box: the fill into a mask, the seams onto an overlay."""

    def __init__(self, mask: Image.Image, overlay: Image.Image, box: tuple[float, float, float, float], ink: RGB):
        self.mask = ImageDraw.Draw(mask)
        self.overlay = ImageDraw.Draw(overlay)
        self.x0, self.y0, self.w, self.h = box
        self.ink = ink + (255,)
        self.line_width = max(2, round(SUPERSAMPLE * 1.1))

    def xy(self, points: Sequence[Point]) -> list[Point]:
        return [(self.x0 + x * self.w, self.y0 + y * self.h) for x, y in points]

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> list[float]:
        (a, b), (c, d) = self.xy([(x0, y0), (x1, y1)])
        return [a, b, c, d]

    def shape(self, points: Sequence[Point]) -> None:
        """A filled garment part with its outline."""
        pts = self.xy(points)
        self.mask.polygon(pts, fill=255)
        self.overlay.polygon(pts, outline=self.ink, width=self.line_width)

    def seam(self, points: Sequence[Point], width: float = 0.7) -> None:
        self.overlay.line(self.xy(points), fill=self.ink, width=max(1, round(self.line_width * width)), joint="curve")

    def dot(self, x: float, y: float, r: float) -> None:
        """A button or rivet, radius r in box widths."""
        ((cx, cy),) = self.xy([(x, y)])
        rx = r * self.w
        self.overlay.ellipse([cx - rx, cy - rx, cx + rx, cy + rx], fill=self.ink)

    def solid(self, points: Sequence[Point], fill: RGB) -> None:
        """An unpatterned part (a sole, a clasp), drawn over the fabric."""
        self.overlay.polygon(self.xy(points), fill=fill + (255,), outline=self.ink, width=self.line_width)

    def band(self, bbox: tuple[float, float, float, float], start: float, end: float, thickness: float) -> None:
        """A thick arc in the fabric colour (a bag handle)."""
        box = self.rect(*bbox)
        width = max(1, round(thickness * self.w))
        self.mask.arc(box, start, end, fill=255, width=width)
        self.overlay.arc(box, start, end, fill=self.ink, width=self.line_width)
        inner = [box[0] + width, box[1] + width, box[2] - width, box[3] - width]
        self.overlay.arc(inner, start, end, fill=self.ink, width=self.line_width)


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 12) -> list[Point]:
    """Points on an elliptical arc, angles in degrees (0 = right, 90 = down)."""
    angles = [math.radians(start + (end - start) * i / steps) for i in range(steps + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def mirror(points: Sequence[Point]) -> list[Point]:
    """The right half of a symmetric outline from its left half (reversed, so the polygon closes)."""
    return [(1 - x, y) for x, y in reversed(points)]


def draw_tshirt(pen: Pen) -> None:
    left = [(0.14, 0.07), (0.0, 0.33), (0.15, 0.41), (0.22, 0.31), (0.21, 1.0)]
    pen.shape([(0.36, 0.0)] + left + mirror(left) + [(0.64, 0.0)] + arc(0.5, 0.0, 0.14, 0.1, 0, 180)[1:-1])
    pen.seam(arc(0.5, 0.0, 0.14, 0.13, 0, 180))
    pen.seam([(0.035, 0.27), (0.17, 0.35)])
    pen.seam([(0.965, 0.27), (0.83, 0.35)])
    pen.seam([(0.21, 0.95), (0.79, 0.95)])


def draw_shirt(pen: Pen) -> None:
    left = [(0.17, 0.08), (0.04, 0.36), (0.0, 0.92), (0.12, 0.94), (0.21, 0.34), (0.21, 0.92), (0.32, 0.99)]
    pen.shape([(0.4, 0.02)] + left + [(0.5, 1.0)] + mirror(left) + [(0.6, 0.02)])
    pen.shape([(0.37, 0.0), (0.5, 0.09), (0.41, 0.17), (0.32, 0.04)])  # collar wings
    pen.shape([(0.63, 0.0), (0.68, 0.04), (0.59, 0.17), (0.5, 0.09)])
    pen.seam([(0.5, 0.1), (0.5, 0.99)])
    for y in (0.22, 0.37, 0.52, 0.67, 0.82):
        pen.dot(0.53, y, 0.012)
    pen.seam([(0.015, 0.83), (0.13, 0.85)])
    pen.seam([(0.985, 0.83), (0.87, 0.85)])
    pen.seam([(0.27, 0.3), (0.4, 0.3), (0.4, 0.42), (0.27, 0.42), (0.27, 0.3)], width=0.5)


def draw_dress(pen: Pen) -> None:
    left = [(0.24, 0.99), (0.0, 0.95), (0.36, 0.34), (0.32, 0.15), (0.35, 0.0), (0.4, 0.0)]
    pen.shape(left + arc(0.5, 0.1, 0.09, 0.08, 180, 0) + mirror(left) + [(0.5, 1.0)])
    pen.seam([(0.36, 0.34), (0.64, 0.34)], width=1.2)
    for x0, x1 in ((0.42, 0.22), (0.5, 0.5), (0.58, 0.78)):
        pen.seam([(x0, 0.38), (x1, 0.95)], width=0.4)


def draw_trousers(pen: Pen) -> None:
    pen.shape([(0.1, 0.0), (0.9, 0.0), (0.95, 0.3), (0.92, 1.0), (0.56, 1.0), (0.51, 0.3),
               (0.49, 0.3), (0.44, 1.0), (0.08, 1.0), (0.05, 0.3)])  # fmt: skip
    pen.seam([(0.09, 0.06), (0.91, 0.06)])
    pen.seam([(0.5, 0.06), (0.5, 0.22), (0.45, 0.27)])
    pen.seam([(0.15, 0.06), (0.27, 0.17)], width=0.5)
    pen.seam([(0.85, 0.06), (0.73, 0.17)], width=0.5)
    pen.seam([(0.27, 0.3), (0.26, 0.98)], width=0.4)
    pen.seam([(0.73, 0.3), (0.74, 0.98)], width=0.4)


def draw_shorts(pen: Pen) -> None:
    pen.shape([(0.08, 0.0), (0.92, 0.0), (0.96, 0.35), (1.0, 0.94), (0.55, 1.0), (0.5, 0.55),
               (0.45, 1.0), (0.0, 0.94), (0.04, 0.35)])  # fmt: skip
    pen.seam([(0.07, 0.1), (0.93, 0.1)])
    pen.seam([(0.5, 0.1), (0.5, 0.4)])
    pen.seam([(0.015, 0.84), (0.46, 0.9)], width=0.5)
    pen.seam([(0.985, 0.84), (0.54, 0.9)], width=0.5)


def draw_skirt(pen: Pen) -> None:
    pen.shape([(0.22, 0.0), (0.78, 0.0), (0.8, 0.1), (1.0, 0.96), (0.5, 1.0), (0.0, 0.96), (0.2, 0.1)])
    pen.seam([(0.2, 0.1), (0.8, 0.1)])
    for x0, x1 in ((0.33, 0.2), (0.44, 0.4), (0.56, 0.6), (0.67, 0.8)):
        pen.seam([(x0, 0.12), (x1, 0.97)], width=0.4)


def draw_shoe(pen: Pen) -> None:
    toe = arc(0.19, 0.8, 0.17, 0.32, 270, 180, 8)
    pen.shape([(0.98, 0.82), (1.0, 0.55), (0.97, 0.3), (0.93, 0.13), (0.85, 0.09), (0.76, 0.16), (0.72, 0.2),
               (0.68, 0.11), (0.62, 0.1), (0.54, 0.16), (0.46, 0.26), (0.32, 0.4)] + toe)  # fmt: skip
    pen.solid([(0.0, 0.8), (1.0, 0.8), (1.0, 0.92), (0.97, 0.97), (0.04, 0.97), (0.0, 0.92)], (245, 245, 242))
    pen.seam([(0.2, 0.5), (0.27, 0.64), (0.26, 0.8)], width=0.6)  # toe cap
    pen.seam([(0.92, 0.14), (0.88, 0.5), (0.84, 0.8)], width=0.6)  # heel counter
    pen.seam(arc(0.62, 0.78, 0.3, 0.34, 200, 300, 8), width=1.0)  # side stripe
    for i in range(5):
        x, y = 0.58 - i * 0.05, 0.12 + i * 0.055
        pen.seam([(x - 0.035, y - 0.01), (x + 0.035, y + 0.06)], width=0.6)


def draw_handbag(pen: Pen) -> None:
    pen.band((0.26, 0.0, 0.74, 0.8), 180, 360, 0.06)
    pen.shape([(0.12, 0.38), (0.88, 0.38), (0.96, 0.9), (0.9, 1.0), (0.1, 1.0), (0.04, 0.9)])
    pen.seam([(0.11, 0.5), (0.89, 0.5)], width=0.5)
    pen.solid([(0.45, 0.45), (0.55, 0.45), (0.55, 0.56), (0.45, 0.56)], (212, 175, 55))  # clasp


def draw_cap(pen: Pen) -> None:
    pen.shape(arc(0.39, 0.72, 0.39, 0.68, 180, 360, 24))
    pen.shape(arc(0.72, 0.72, 0.28, 0.1, 180, 360, 12) + arc(0.72, 0.72, 0.28, 0.14, 0, 180, 12))
    pen.seam(arc(0.39, 0.66, 0.19, 0.62, 180, 360, 20), width=0.5)  # panel seams up to the button
    pen.seam([(0.0, 0.66), (0.58, 0.66)], width=0.5)
    pen.dot(0.39, 0.05, 0.03)


@dataclass(frozen=True)
class Article:
    """A Kaggle article type and how to draw it; size is the garment box as fractions of the image."""

    article_type: str
    master: str
    sub: str
    noun: str
    genders: tuple[str, ...]
    usages: tuple[str, ...]
    size: tuple[float, float]
    patterns: tuple[str, ...]
    stripes_vertical: bool
    draw: Callable[[Pen], None]


ALL_PATTERNS = ("solid", "solid", "stripes", "checks", "dots")
ARTICLES: tuple[Article, ...] = (
    Article("Tshirts", "Apparel", "Topwear", "Tshirt", ("Men", "Women", "Unisex"), ("Casual", "Sports"),
            (0.86, 0.68), ALL_PATTERNS, False, draw_tshirt),
    Article("Shirts", "Apparel", "Topwear", "Shirt", ("Men", "Women"), ("Casual", "Formal"),
            (0.84, 0.8), ("solid", "solid", "stripes", "checks"), True, draw_shirt),
    Article("Dresses", "Apparel", "Dress", "Dress", ("Women",), ("Casual", "Party"),
            (0.74, 0.88), ALL_PATTERNS, False, draw_dress),
    Article("Trousers", "Apparel", "Bottomwear", "Trousers", ("Men", "Women"), ("Casual", "Formal"),
            (0.5, 0.9), ("solid", "solid", "solid", "checks"), True, draw_trousers),
    Article("Shorts", "Apparel", "Bottomwear", "Shorts", ("Men", "Women", "Unisex"), ("Casual", "Sports"),
            (0.62, 0.5), ("solid", "solid", "stripes", "checks"), False, draw_shorts),
    Article("Skirts", "Apparel", "Bottomwear", "Skirt", ("Women",), ("Casual", "Formal"),
            (0.7, 0.58), ALL_PATTERNS, True, draw_skirt),
    Article("Casual Shoes", "Footwear", "Shoes", "Casual Shoes", ("Men", "Women", "Unisex"), ("Casual",),
            (0.88, 0.42), ("solid", "solid", "solid", "checks"), False, draw_shoe),
    Article("Handbags", "Accessories", "Bags", "Handbag", ("Women",), ("Casual", "Formal"),
            (0.78, 0.66), ("solid", "solid", "solid", "checks", "stripes"), True, draw_handbag),
    Article("Caps", "Accessories", "Headwear", "Cap", ("Unisex", "Men", "Women"), ("Casual", "Sports"),
            (0.82, 0.48), ("solid", "solid", "solid", "stripes"), False, draw_cap),
)  # fmt: skip


def _rgb(hex_code: str) -> RGB:
    return int(hex_code[1:3], 16), int(hex_code[3:5], 16), int(hex_code[5:7], 16)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _ink(fabric: RGB) -> RGB:
    """Seam and outline colour: darker than the fabric, or lighter for near-black fabric."""
    return _mix(fabric, (255, 255, 255), 0.3) if _luma(fabric) < 50 else _mix(fabric, (0, 0, 0), 0.35)


def _fabric(size: tuple[int, int], base: RGB, pattern: str, vertical: bool, rng: random.Random) -> Image.Image:
    """The cloth: a plain colour, or stripes, checks or dots in a contrasting colour."""
    cloth = Image.new("RGB", size, base)
    if pattern == "solid":
        return cloth
    contrast = _mix(base, (0, 0, 0), 0.5) if _luma(base) > 150 else rng.choice([(246, 246, 240), (235, 200, 60)])
    draw = ImageDraw.Draw(cloth, "RGBA")
    step = rng.randint(7, 11) * SUPERSAMPLE
    w, h = size
    if pattern == "stripes":
        thick = step // rng.choice([2, 3])
        for p in range(0, w if vertical else h, step):
            draw.rectangle([p, 0, p + thick, h] if vertical else [0, p, w, p + thick], fill=contrast)
    elif pattern == "checks":
        thick, ink = step // 3, contrast + (120,)
        for p in range(0, max(w, h), step):
            draw.rectangle([p, 0, p + thick, h], fill=ink)
            draw.rectangle([0, p, w, p + thick], fill=ink)
    else:
        r = step * 0.22
        for row, y in enumerate(range(0, h + step, step)):
            for x in range(step // 2 * (row % 2), w + step, step):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=contrast)
    return cloth


_SHADING: dict[tuple[int, int], Image.Image] = {}


def _shading(size: tuple[int, int]) -> Image.Image:
    """Light from the front: cloth a little darker towards the sides, so it reads as a 3-D object."""
    if size not in _SHADING:
        w, h = size
        row = Image.new("L", (w, 1))
        row.putdata([round(255 * (0.86 + 0.14 * math.cos((x / w - 0.5) * math.pi))) for x in range(w)])
        _SHADING[size] = row.resize(size).convert("RGB")
    return _SHADING[size]


def _draw_item(article: Article, colour: str, pattern: str, rng: random.Random) -> Image.Image:
    """One product shot: a shadowed, shaded garment on a near-white background."""
    size = (WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE)
    base = _mix(_rgb(BASE_COLOURS[colour]), rng.choice([(0, 0, 0), (255, 255, 255)]), rng.uniform(0, 0.1))
    scale = rng.uniform(0.86, 1.0)
    w, h = article.size[0] * scale * size[0], article.size[1] * scale * size[1]
    x0 = (size[0] - w) / 2 + rng.uniform(-0.04, 0.04) * size[0]
    y0 = (size[1] - h) / 2 + rng.uniform(-0.04, 0.04) * size[1]

    mask = Image.new("L", size, 0)
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    article.draw(Pen(mask, overlay, (x0, y0, w, h), _ink(base)))

    background = round(rng.uniform(243, 255))
    shot = Image.new("RGB", size, (background,) * 3)
    shadow = ImageChops.offset(mask, 2 * SUPERSAMPLE, 3 * SUPERSAMPLE).filter(ImageFilter.BoxBlur(4 * SUPERSAMPLE))
    shot.paste((background - 40,) * 3, mask=shadow.point(lambda v: v * 45 // 100))
    cloth = ImageChops.multiply(_fabric(size, base, pattern, article.stripes_vertical, rng), _shading(size))
    shot.paste(cloth, mask=mask)
    shot.paste(overlay, mask=overlay)
    return shot.reduce(SUPERSAMPLE)


def _rows(n: int, rng: random.Random) -> list[tuple[dict[str, str], Article, str]]:
    """The styles.csv rows: article types and colours cycle (every one appears), the rest is drawn at random."""
    colours = rng.sample(DEMO_COLOURS, len(DEMO_COLOURS))
    rows = []
    for i in range(n):
        article = ARTICLES[i % len(ARTICLES)]
        gender = article.genders[(i // len(ARTICLES)) % len(article.genders)]
        colour = colours[i % len(colours)]
        pattern = rng.choice(article.patterns)
        word = PATTERN_WORDS[pattern] if pattern != "solid" or rng.random() < 0.5 else ""
        name = " ".join(part for part in (rng.choice(BRANDS), gender, colour, word, article.noun) if part)
        row = {
            "id": str(10001 + i), "gender": gender, "masterCategory": article.master, "subCategory": article.sub,
            "articleType": article.article_type, "baseColour": colour, "season": rng.choice(SEASONS),
            "year": str(rng.randint(2011, 2017)), "usage": rng.choice(article.usages), "productDisplayName": name,
        }  # fmt: skip
        rows.append((row, article, pattern))
    return rows


def write_demo_catalog(out: Path, n: int = 240, seed: int = 0) -> Path:
    """Write n products (styles.csv + images/<id>.jpg) under out and return out.

    styles.csv is written last (temp file + os.replace), so a folder without it is an
    interrupted write and rewriting it is safe. A non-empty folder we did not write is refused.
    """
    if n < 1:
        raise CatalogError(f"The demo catalogue needs at least one product, not {n}.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CatalogError(f"{out} is a file; the demo catalogue needs a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise CatalogError(f"{out} is not empty and holds no demo catalogue; choose an empty or new folder.")
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Synthetic catalogue written by `python -m recommender demo-catalog`.\n")
    (out / "styles.csv").unlink(missing_ok=True)

    rng = random.Random(seed)
    rows = _rows(n, rng)
    for row, article, pattern in rows:
        _draw_item(article, row["baseColour"], pattern, rng).save(images / f"{row['id']}.jpg", quality=90)

    lines = [",".join(COLUMNS)] + [",".join(row[c] for c in COLUMNS) for row, _, _ in rows]
    write_text_atomic(out / "styles.csv", "\n".join(lines) + "\n")
    return out
