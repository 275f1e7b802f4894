"""A part of a photo to search by: a box in fractions of the picture's width and height.

Fractions, not pixels, so one box means the same part of a photo at every size it is kept or shown
(the upload store's 1024-px copy, the 320-px thumbnail, the catalogue original). A box arrives from
a browser, so `Box.parse` accepts only four numbers in order inside [0, 1], and a box too small to
show a garment is refused rather than embedded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from PIL import Image

__all__ = ["Box", "MIN_SIDE"]

MIN_SIDE = 0.05  # a box narrower or lower than 5 % of the photo holds too little to search by
_NUMBER = re.compile(r"^\d(\.\d{1,4})?$")


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float

    def __post_init__(self) -> None:
        values = (self.left, self.top, self.right, self.bottom)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise ValueError("a box's edges are fractions between 0 and 1")
        if self.right - self.left < MIN_SIDE or self.bottom - self.top < MIN_SIDE:
            raise ValueError("a box must cover at least 5 % of the photo's width and height")

    @classmethod
    def around(cls, x0: float, y0: float, x1: float, y1: float) -> "Box | None":
        """The box spanned by two corners in any order, clipped to the photo, rounded to 4 decimals;
        None when it is too small or not made of numbers."""
        try:
            xs = sorted(min(max(float(x), 0.0), 1.0) for x in (x0, x1))
            ys = sorted(min(max(float(y), 0.0), 1.0) for y in (y0, y1))
            return cls(round(xs[0], 4), round(ys[0], 4), round(xs[1], 4), round(ys[1], 4))
        except (TypeError, ValueError):
            return None

    @classmethod
    def parse(cls, text: str) -> "Box | None":
        """The box of `key()` text ("0.1,0.2,0.6,0.9"); None for anything else."""
        parts = text.split(",") if isinstance(text, str) else []
        if len(parts) != 4 or not all(_NUMBER.match(p) for p in parts):
            return None
        try:
            return cls(*(float(p) for p in parts))
        except ValueError:
            return None

    def key(self) -> str:
        """A short canonical text of the box, for URLs and cache keys."""
        return ",".join(f"{v:.4f}".rstrip("0").rstrip(".") or "0" for v in (self.left, self.top, self.right, self.bottom))

    def crop(self, image: Image.Image) -> Image.Image:
        """This part of a decoded picture (at least one pixel each way)."""
        width, height = image.size
        left, top = int(self.left * width), int(self.top * height)
        right = max(left + 1, round(self.right * width))
        bottom = max(top + 1, round(self.bottom * height))
        return image.crop((left, top, right, bottom))
