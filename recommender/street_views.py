"""Street-like views of catalogue pictures: what a shopper's photo of a garment being worn looks like.

A catalogue shot shows the garment whole, centred, on a plain background, evenly lit. A shopper
photographs it on a person in the street or in a friend's picture: framed loosely or cut off by
the frame, in front of clutter, partly hidden by an arm, a bag or another garment, small, blurred,
compressed, under warm or cold light, mirrored. The Kaggle catalogue's apparel shots already show
garments worn by models, so views made from them are worn garments in such conditions.

A head trained on these views of its own products (with the products' labels) learns that none of
this changes the kind of garment (`python -m recommender train --views`); the same views of the
held-out products, made with another seed, are a development set of worn garments that `evaluate
--queries` scores. Every transformation is generic (no rule knows a garment type), so that photos
from other sources behave alike. Scenes are drawn procedurally (gradients, shapes, texture, noise):
nothing is taken from a photo collection, so the views carry no one collection's look.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

__all__ = ["ViewSettings", "foreground_mask", "scene", "street_view"]

OUTPUT_SIDE = 256  # the longer side of a view: above the models' 224 px input, as a phone crop would be
BACKGROUND_TOLERANCE = 18.0  # RGB distance from the border's median colour that still counts as background
SKIN_TONES = ((241, 194, 167), (224, 172, 138), (198, 134, 100), (161, 102, 70), (110, 68, 45), (80, 51, 35))


@dataclass(frozen=True)
class ViewSettings:
    """How far each change may go; the defaults make views like loose phone crops of a worn garment."""

    min_visible: float = 0.6  # least share of the garment's box kept inside the frame (each side cut at most 1 - this)
    margin: float = 0.35  # most scene around the garment on each side, as a share of its box
    occlusion: float = 0.5  # chance of an arm, a bag or another garment in front
    blur: float = 0.5  # chance of a blur (radius up to 2 px at the output size)
    low_resolution: float = 0.3  # chance of the view passing through a small size (a far-away garment)
    jpeg_quality: tuple[int, int] = (30, 90)
    light: float = 0.35  # brightness and contrast vary by up to this share
    white_balance: float = 0.15  # each channel's gain varies by up to this share
    mirror: float = 0.5
    aspect: float = 0.0  # the garment's width against its height changes by a factor of up to e ** +-this (a long
    # adult's dress photographed beside a short child's one; 0: the shape is kept, as for the Kaggle views)


def foreground_mask(pixels: np.ndarray) -> np.ndarray:
    """(h, w) float 0..1: how much each pixel belongs to the subject rather than the plain backdrop.

    The backdrop is the border's median colour (catalogue shots are framed on one tone); pixels far
    from it are the subject, with a soft edge. A picture whose border is not plain gets a full mask.
    """
    rgb = np.asarray(pixels, dtype=np.float32)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    backdrop = np.median(border, axis=0)
    if np.linalg.norm(border - backdrop, axis=1).mean() > 2 * BACKGROUND_TOLERANCE:
        return np.ones(rgb.shape[:2], np.float32)
    distance = np.linalg.norm(rgb - backdrop, axis=2)
    mask = np.clip((distance - BACKGROUND_TOLERANCE / 2) / BACKGROUND_TOLERANCE, 0.0, 1.0)
    softened = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3))
    return np.asarray(softened.filter(ImageFilter.GaussianBlur(1)), dtype=np.float32) / 255.0


def _colour(rng: np.random.Generator, saturation: float = 1.0) -> tuple[int, int, int]:
    """A random colour; `saturation` below 1 pulls it towards its grey, as most of a street is."""
    rgb = rng.uniform(0, 255, 3)
    grey = rgb.mean()
    return tuple(int(c) for c in grey + (rgb - grey) * saturation)


def scene(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A cluttered backdrop of `size` (width, height): a lit gradient, shapes of walls, windows,
    people and cars, texture and sensor noise, slightly out of focus. Drawn at half size (a backdrop is
    out of focus anyway), which keeps a view cheap to make."""
    width, height = max(8, size[0] // 2), max(8, size[1] // 2)
    saturation = float(rng.uniform(0.1, 0.7))
    top, bottom = (np.array(_colour(rng, saturation), np.float32) for _ in range(2))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    canvas = Image.fromarray((top * (1 - ramp) + bottom * ramp).repeat(width, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(canvas, "RGBA")
    for _ in range(int(rng.integers(8, 40))):
        x0, y0 = rng.integers(-width // 4, width), rng.integers(-height // 4, height)
        w, h = rng.integers(width // 12 + 1, width // 2 + 2), rng.integers(height // 12 + 1, height // 2 + 2)
        fill = (*_colour(rng, saturation), int(rng.integers(90, 256)))
        shape = rng.integers(0, 3)
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        if shape == 0:
            draw.rectangle(box, fill=fill)
        elif shape == 1:
            draw.ellipse(box, fill=fill)
        else:
            draw.line(box, fill=fill, width=int(rng.integers(1, max(2, width // 30))))
    noise = rng.normal(0.0, rng.uniform(2.0, 14.0), (height, width, 1)).astype(np.float32)
    pixels = np.clip(np.asarray(canvas, np.float32) + noise, 0, 255).astype(np.uint8)
    blurred = Image.fromarray(pixels).filter(ImageFilter.BoxBlur(float(rng.uniform(0.0, 1.2))))
    return blurred.resize(size, Image.Resampling.BILINEAR)


def _occluder(size: tuple[int, int], rng: np.random.Generator,
              others: Sequence[Image.Image]) -> tuple[Image.Image, Image.Image, tuple[int, int]]:
    """Something in front of a garment of `size`: (picture, mask, where on the garment), an arm, a bag
    or another garment."""
    width, height = size
    kind = rng.integers(0, 3) if others else rng.integers(0, 2)
    if kind == 2:  # another product, cut out of its backdrop
        other = others[int(rng.integers(len(others)))].convert("RGB")
        scale = rng.uniform(0.3, 0.7) * height / other.height
        other = other.resize((max(1, int(other.width * scale)), max(1, int(other.height * scale))))
        mask = Image.fromarray((foreground_mask(np.asarray(other)) * 255).astype(np.uint8))
        return other, mask, (int(rng.uniform(-0.2, 0.8) * width), int(rng.uniform(0.0, 0.7) * height))
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    if kind == 0:  # an arm: a long skin-toned band across the frame
        thickness = int(width * rng.uniform(0.08, 0.16))
        points = [(int(rng.uniform(-0.1, 0.4) * width), int(rng.uniform(0, 1) * height)),
                  (int(rng.uniform(0.6, 1.1) * width), int(rng.uniform(0, 1) * height))]
        draw.line(points, fill=255, width=thickness)
        tone = np.array(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]) * rng.uniform(0.85, 1.1)
        colour = tuple(int(c) for c in np.clip(tone, 0, 255))
    else:  # a bag: a rounded block of one colour with a strap
        w, h = int(width * rng.uniform(0.2, 0.4)), int(height * rng.uniform(0.15, 0.3))
        x, y = int(rng.uniform(0, width - w)), int(rng.uniform(0.3, 1.0) * (height - h))
        draw.rounded_rectangle((x, y, x + w, y + h), radius=max(1, w // 6), fill=255)
        draw.line([(x + w // 4, y), (x + w // 2, max(0, y - h))], fill=255, width=max(2, w // 12))
        colour = _colour(rng)
    return Image.new("RGB", size, colour), mask.filter(ImageFilter.GaussianBlur(1.5)), (0, 0)


def _frame(box: tuple[float, float, float, float], canvas: tuple[int, int], s: ViewSettings,
           rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A crop of the canvas around the garment's box: loose on some sides, cutting it on others."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cut = 1.0 - s.min_visible
    left = x0 - w * rng.uniform(-cut / 2, s.margin)
    right = x1 + w * rng.uniform(-cut / 2, s.margin)
    top = y0 - h * rng.uniform(-cut / 2, s.margin)
    bottom = y1 + h * rng.uniform(-cut / 2, s.margin)
    width, height = canvas
    return (int(max(0, left)), int(max(0, top)), int(min(width, max(left + 8, right))),
            int(min(height, max(top + 8, bottom))))


def street_view(picture: Image.Image, rng: np.random.Generator, others: Sequence[Image.Image] = (),
                settings: ViewSettings = ViewSettings()) -> Image.Image:
    """One street-like view of a catalogue picture (module notes); `others` are pictures that may occlude it."""
    s = settings
    rgb = picture.convert("RGB")
    scale = OUTPUT_SIDE / max(rgb.size)
    stretch = float(np.exp(rng.uniform(-s.aspect, s.aspect))) if s.aspect else 1.0  # drawn only when asked for
    garment = rgb.resize((max(1, round(rgb.width * scale * stretch)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BICUBIC)
    mask = Image.fromarray((foreground_mask(np.asarray(garment)) * 255).astype(np.uint8))
    pad_x, pad_y = (int(d * s.margin) + 1 for d in garment.size)
    canvas_size = (garment.width + 2 * pad_x, garment.height + 2 * pad_y)
    canvas = scene(canvas_size, rng)
    canvas.paste(garment, (pad_x, pad_y), mask)
    if rng.random() < s.occlusion:
        cover, cover_mask, (x, y) = _occluder(garment.size, rng, others)
        canvas.paste(cover, (pad_x + x, pad_y + y), cover_mask)
    view = canvas.crop(_frame((pad_x, pad_y, pad_x + garment.width, pad_y + garment.height), canvas_size, s, rng))
    return _photographed(view, rng, s)


def _photographed(view: Image.Image, rng: np.random.Generator, s: ViewSettings) -> Image.Image:
    """Light, white balance, focus, resolution, compression and mirroring, as a phone would vary them."""
    pixels = np.asarray(view, np.float32)
    gains = 1.0 + rng.uniform(-s.white_balance, s.white_balance, 3)
    brightness = 1.0 + rng.uniform(-s.light, s.light)
    contrast = 1.0 + rng.uniform(-s.light, s.light)
    mean = pixels.mean()
    pixels = ((pixels - mean) * contrast + mean) * brightness * gains
    view = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < s.low_resolution:
        small = max(24, int(max(view.size) * rng.uniform(0.15, 0.5)))
        ratio = small / max(view.size)
        view = view.resize((max(1, int(view.width * ratio)), max(1, int(view.height * ratio))), Image.Resampling.BILINEAR)
    if rng.random() < s.blur:
        view = view.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 2.0) * max(view.size) / OUTPUT_SIDE)))
    if rng.random() < s.mirror:
        view = ImageOps.mirror(view)
    buffer = BytesIO()
    view.save(buffer, "JPEG", quality=int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
