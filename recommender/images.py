"""Open any photo a shopper or a catalogue may hand us, safely, as 8-bit RGB.

Uploads are untrusted: every failure a user can cause (empty, too big, not an image,
cut off, a decompression bomb, a missing file) becomes an `ImageError` whose message is
one sentence meant for the shopper. Odd but valid images (alpha, palette, greyscale,
1-bit, CMYK, 16-bit, EXIF-rotated phone photos) are normalised instead of rejected.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from recommender.errors import ImageError

__all__ = ["DEFAULT_MAX_BYTES", "ImageError", "open_image", "fit_to_model", "load_for_model"]

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB

# What Pillow raises on damaged data; all of them mean "this file cannot be decoded".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError, struct.error)
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_OPEN_LOCK = threading.Lock()


def _mb(n_bytes: float) -> str:
    """Bytes as a short MB figure for messages: 10 MB, 12.3 MB."""
    return f"{n_bytes / MIB:.1f}".removesuffix(".0")


def _read_source(source: str | Path | bytes, max_bytes: int | None) -> str | Path | io.BytesIO:
    """Check existence and size before Pillow sees anything (cheap, and gives clear messages)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        handle: str | Path | io.BytesIO = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"The image file {path} does not exist.")
        size = path.stat().st_size
        handle = path
    if size == 0:
        raise ImageError("The file is empty (0 bytes), so it contains no image.")
    if max_bytes is not None and size > max_bytes:
        raise ImageError(f"The file is {_mb(size)} MB, more than the {_mb(max_bytes)} MB limit for images.")
    return handle


def _bomb_message() -> str:
    limit = Image.MAX_IMAGE_PIXELS
    megapixels = f"{limit / 1e6:.0f} megapixels" if limit else "the pixel limit"
    return f"The image has too many pixels (more than {megapixels}) to be processed safely."


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: transparency composited on white, 16-bit scaled (not clipped) to 8 bits."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in _SIXTEEN_BIT_MODES:
        # 0..65535 -> 0..255 over the full range; convert("L") would clip everything above 255 to white.
        values = np.asarray(image, dtype=np.float32).clip(0, 65535)
        return Image.fromarray(np.rint(values / 257.0).astype(np.uint8), mode="L").convert("RGB")
    return image.convert("RGB")


def _open(source: str | Path | bytes, max_bytes: int | None, draft_size: tuple[int, int] | None) -> Image.Image:
    handle = _read_source(source, max_bytes)
    try:
        # The warnings filter list is process-wide: with threads decoding in parallel, overlapping
        # catch_warnings blocks could leave our filter installed for good, hence the lock. Pillow only
        # warns between 1x and 2x its pixel limit; such an image is still a bomb to us.
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle)  # reads the header only
        with image:
            # Pillow's check again, for when another library's catch_warnings hid the warning meanwhile.
            limit = Image.MAX_IMAGE_PIXELS
            if limit and image.width * image.height > limit:
                raise ImageError(_bomb_message())
            if draft_size is not None:
                # JPEG only: decode at 1/2, 1/4 or 1/8 scale, never below draft_size (we resize anyway).
                image.draft(None, draft_size)
            image.load()  # full decode now, so truncated files fail here (LOAD_TRUNCATED_IMAGES stays False)
            return _to_rgb(ImageOps.exif_transpose(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(_bomb_message()) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError("The file is not an image we can read; please use a JPEG, PNG or WebP photo.") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError("The image is damaged or incomplete (was the upload cut off?), so it cannot be read.") from exc


def open_image(source: str | Path | bytes, *, max_bytes: int | None = None) -> Image.Image:
    """Decode `source` (a path or the uploaded bytes) into an 8-bit RGB image, upright.

    `max_bytes` limits the file size (uploads pass the app's setting, `DEFAULT_MAX_BYTES` by
    default there); None means no size limit, for trusted catalogue files. Pillow's pixel
    limit (`Image.MAX_IMAGE_PIXELS`) always applies.
    """
    return _open(source, max_bytes, None)


def fit_to_model(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A decoded image resized (whole, no crop) to the model input `size` = (height, width): uint8 (h, w, 3)."""
    height, width = size
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.uint8)


def load_for_model(
    source: str | Path | bytes, size: tuple[int, int], *, max_bytes: int | None = None
) -> np.ndarray:
    """Decode and resize in one go, letting JPEG decode at a reduced scale first (the build's reader)."""
    side = max(size)  # the draft must cover the target in either orientation (EXIF may rotate)
    return fit_to_model(_open(source, max_bytes, (side, side)), size)
