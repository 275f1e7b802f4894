"""What a picture shows besides the CNN's features: its garment's colour, whether it is blank, its pixels' digest.

ImageNet features weigh the whole picture: a black dress on a beige wall "looks like" beige things.
The garment's colour is measured apart, on the foreground only: the background colour is estimated
from the picture's border (product shots and most shopper photos are framed with the garment in
the middle; a floor or wall shows several tones, so every border pixel counts as a background tone),
pixels close to any of them are dropped, and the rest (the middle of the picture weighing most), as they
would look in good light (`_corrected`), are softly assigned to the names of the
project's colour table (`recommender.colours`), giving a histogram a shopper's words can name
("Black", 0.8). The same histogram ranks colour (Bhattacharyya coefficient) and names a computed
colour for catalogues that have none. A picture with (almost) no pixel away from its border colour
is blank; identical pictures share a digest. Everything is computed from the model-sized pixels the
build and the query already have, so nothing is decoded twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from recommender.colours import BASE_COLOURS

__all__ = ["APPEARANCE_VERSION", "COLOUR_NAMES", "Appearance", "describe", "colour_names", "colour_similarity"]

# How the histograms are computed: recorded in each index's manifest, so that the demo (whose colours are computed)
# is rebuilt when it changes. 2: exposure and chroma corrected, background farther, the middle weighted.
APPEARANCE_VERSION = 2
COLOUR_NAMES: tuple[str, ...] = tuple(name for name in BASE_COLOURS if name not in ("Multi", "NA"))
GRID = 32  # pixels per side the colour is measured on: fine enough for a histogram, and fast
BORDER = 2  # grid cells along each edge that show the background
CHUNK = 8  # pictures described at a time: 8 x 1,024 x 240 distances stay in the CPU's caches (2.4x faster at 116)
FIRST_BACKGROUND_DELTA_E = 10.0  # version 1: uncorrected colours, every foreground pixel alike
BACKGROUND_DELTA_E = 15.0  # CIE76 distance from every background tone that makes a pixel foreground
BLANK_DELTA_E = 6.0  # a pixel this far from the border's median colour is "something"; too few of them: blank
BLANK_SHARE = 0.003
MIN_FOREGROUND_SHARE = 0.05  # below it the garment fills the frame (or is the background's colour): use all pixels
SOFTNESS = 10.0  # Lab distance over which a pixel's vote spreads across neighbouring colour names
EXPOSURE_PERCENTILE = 95.0  # the picture's pixels this bright are taken as near white ...
EXPOSURE_CAP = 1.5  # ... and lightness is stretched by at most this factor to make them so
CHROMA_GAIN = 2.0  # photos are paler than the colour table's ideal colours
CENTRE_SIGMA = 0.2  # spread (a share of the side) of the weight of the middle of the picture


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255, any leading shape) -> CIE L*a*b* under D65 (the standard formulas)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]],
                            dtype=np.float32)
    xyz /= np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
                    axis=-1)


def _palette() -> np.ndarray:
    hex_codes = [BASE_COLOURS[name].lstrip("#") for name in COLOUR_NAMES]
    rgb = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in hex_codes], dtype=np.float32)
    return _srgb_to_lab(rgb)


PALETTE_LAB = _palette()


@dataclass(frozen=True)
class Appearance:
    """Per picture: foreground colour histogram over COLOUR_NAMES (rows sum to 1), pixel digest, blank flag."""

    colours: np.ndarray  # (n, len(COLOUR_NAMES)) float32
    digests: np.ndarray  # (n,) str
    blank: np.ndarray  # (n,) bool

    def __len__(self) -> int:
        return len(self.colours)

    def take(self, rows: np.ndarray | list[int]) -> "Appearance":
        rows = np.asarray(rows, dtype=np.int64)
        return Appearance(self.colours[rows], self.digests[rows], self.blank[rows])

    @classmethod
    def concat(cls, parts: list["Appearance"]) -> "Appearance":
        if not parts:
            return empty()
        return cls(np.concatenate([p.colours for p in parts]), np.concatenate([p.digests for p in parts]),
                   np.concatenate([p.blank for p in parts]))


def empty() -> Appearance:
    return Appearance(np.empty((0, len(COLOUR_NAMES)), np.float32), np.empty(0, dtype="<U32"), np.empty(0, bool))


def _grid(pixels: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) -> (n, GRID, GRID, 3) by sampling: enough for colour, and cheap."""
    n, height, width, _ = pixels.shape
    ys = np.linspace(0, height - 1, GRID).round().astype(np.int64)
    xs = np.linspace(0, width - 1, GRID).round().astype(np.int64)
    return pixels[:, ys][:, :, xs]


def _corrected(lab: np.ndarray) -> np.ndarray:
    """Lab pixels (n, pixels, 3) as the garment would look in good light, for naming colours.

    Shoppers' and sellers' photos are taken indoors: a white shirt comes out at L* 60-80 and every colour
    paler than the table's ideal. The picture's brightest pixels (its EXPOSURE_PERCENTILE) are taken as
    near white, so lightness is stretched towards 100 (at most EXPOSURE_CAP times), and chroma is raised
    by CHROMA_GAIN, so faded denim is blue rather than steel grey.
    """
    bright = np.percentile(lab[..., 0], EXPOSURE_PERCENTILE, axis=1)[:, None]
    gain = np.clip(100.0 / np.maximum(bright, 1.0), 1.0, EXPOSURE_CAP)
    return np.stack([np.minimum(lab[..., 0] * gain, 100.0), lab[..., 1] * CHROMA_GAIN, lab[..., 2] * CHROMA_GAIN],
                    axis=-1)


def _centre_weights() -> np.ndarray:
    """A Gaussian over the grid: the garment is framed in the middle, so what is near the edge counts less."""
    axis = (np.arange(GRID) + 0.5) / GRID - 0.5
    squared = axis[:, None] ** 2 + axis[None, :] ** 2
    return np.exp(-0.5 * squared / CENTRE_SIGMA**2).reshape(-1).astype(np.float32)


def describe(pixels: np.ndarray, version: int = APPEARANCE_VERSION) -> Appearance:
    """The appearance of a batch of uint8 RGB pictures (n, h, w, 3), as the model sees them.

    `version` is the histograms' definition: a query is described as its index's products were (an
    index records its own), so an index built before a change still compares like with like.
    """
    if version not in (1, APPEARANCE_VERSION):
        raise ValueError(f"no colour histogram of version {version}; this code computes 1 and {APPEARANCE_VERSION}")
    pixels = np.asarray(pixels)
    if pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise ValueError(f"pictures must be (n, height, width, 3), not {pixels.shape}")
    if len(pixels) == 0:
        return empty()
    if len(pixels) > CHUNK:  # the (n, pixels, border) distances of a large batch spill out of the caches
        return Appearance.concat([describe(pixels[i : i + CHUNK], version) for i in range(0, len(pixels), CHUNK)])
    digests = np.array([hashlib.sha256(np.ascontiguousarray(p).tobytes()).hexdigest()[:32] for p in pixels])
    lab = _srgb_to_lab(_grid(pixels)).reshape(len(pixels), GRID, GRID, 3)
    edge = np.zeros((GRID, GRID), dtype=bool)
    edge[:BORDER], edge[-BORDER:], edge[:, :BORDER], edge[:, -BORDER:] = True, True, True, True
    flat = lab.reshape(len(pixels), -1, 3)
    border = lab[:, edge]  # (n, border pixels, 3): a textured floor or wall shows several tones
    squared = (flat**2).sum(axis=2)[:, :, None] - 2.0 * flat @ border.transpose(0, 2, 1) + (border**2).sum(axis=2)[:, None]
    away = np.sqrt(np.clip(squared.min(axis=2), 0.0, None))  # (n, pixels): distance to the nearest border tone
    foreground = away > (BACKGROUND_DELTA_E if version > 1 else FIRST_BACKGROUND_DELTA_E)
    # blank: (almost) every pixel has the border's one median colour. Not "near some border tone": a
    # garment that touches the frame has its tones on the border too, and is anything but blank.
    from_median = np.linalg.norm(flat - np.median(border, axis=1)[:, None], axis=2)
    blank = (from_median > BLANK_DELTA_E).mean(axis=1) < BLANK_SHARE
    too_small = foreground.mean(axis=1) < MIN_FOREGROUND_SHARE
    foreground[too_small] = True
    named = _corrected(flat) if version > 1 else flat
    squared = (named**2).sum(axis=2, keepdims=True) - 2.0 * named @ PALETTE_LAB.T + (PALETTE_LAB**2).sum(axis=1)
    distance = np.sqrt(np.clip(squared, 0.0, None))  # (n, pixels, colours)
    votes = np.exp(-0.5 * ((distance - distance.min(axis=2, keepdims=True)) / SOFTNESS) ** 2)
    votes /= votes.sum(axis=2, keepdims=True)
    weights = foreground.astype(np.float32) * (_centre_weights() if version > 1 else 1.0)
    colours = np.einsum("np,npc->nc", weights, votes) / weights.sum(axis=1, keepdims=True)
    return Appearance(colours.astype(np.float32), digests, blank)


def colour_names(colours: np.ndarray) -> list[tuple[str, float]]:
    """The dominant colour name of each histogram row and its share (a confidence)."""
    colours = np.atleast_2d(colours)
    best = colours.argmax(axis=1)
    return [(COLOUR_NAMES[b], float(row[b])) for b, row in zip(best.tolist(), colours)]


def colour_similarity(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Bhattacharyya coefficient between one query histogram (C,) or a batch (n, C) and candidates (..., C): 0..1."""
    return np.sqrt(np.clip(candidates, 0, None) * np.clip(query, 0, None)[..., None, :]).sum(axis=-1)
