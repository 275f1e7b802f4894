"""Open any photo a shopper or a catalogue may hand us, safely, as 8-bit RGB.

Uploads are untrusted: every failure a user can cause (empty, too big, not an image,
cut off, a decompression bomb, a missing file) becomes an `ImageError` whose message is
one sentence meant for the shopper. Odd but valid images (alpha, palette, greyscale,
1-bit, CMYK, 16-bit, EXIF-rotated phone photos, iPhone HEIC) are normalised instead of rejected.

Memory is bounded per picture: uploads have their own, lower pixel limit; a picture is decoded
once, at the smallest scale its caller needs (JPEG decodes at 1/2, 1/4 or 1/8 scale directly;
other formats are reduced right after decoding, before any conversion); and the full-size
decodes of large pictures take turns, one per process, so a few pixel bombs cannot
add up to gigabytes.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

from recommender.errors import ImageError

__all__ = [
    "DEFAULT_MAX_BYTES", "UPLOAD_MAX_PIXELS", "UPLOAD_FORMATS", "ImageError", "open_image", "open_upload", "fit_to_model",
    "load_for_model", "size_error",
]  # fmt: skip

pillow_heif.register_heif_opener()  # iPhone photos (HEIC/HEIF) open like any other format

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
# A 48-megapixel phone photo passes; a shopper's photo with more pixels than this is an attack.
UPLOAD_MAX_PIXELS = 50_000_000
# Decodes above this many bytes of pixels (after JPEG's reduced scale) take turns, one at a time.
LARGE_DECODE_BYTES = 64 * MIB
LARGE_DECODE_WAIT_S = 30.0
# What a shopper's photo may be: what phones and browsers make. The others Pillow reads (GIF, BMP, TIFF,
# ICO, PSD...) add decoders to attack, and nothing a shopper needs, so they get the sentence that names these.
UPLOAD_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")

# What Pillow raises on damaged data; all of them mean "this file cannot be decoded".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError, struct.error)
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_BOX_REDUCIBLE_MODES = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"}  # not palettes
_OPEN_LOCK = threading.Lock()
_LARGE_DECODE = threading.BoundedSemaphore(1)


def _mb(n_bytes: float) -> str:
    """Bytes as a short MB figure for messages: 10 MB, 12.3 MB."""
    return f"{n_bytes / MIB:.1f}".removesuffix(".0")


def size_error(size: object, limit: int) -> ImageError:
    """The error for a file of `size` bytes over `limit`, or for a size that is not a byte count at all.

    `size` may come from a browser (which measured a file and held it back): anything but a whole
    number of bytes above the limit gets a sentence that does not repeat it.
    """
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size <= limit:
        return ImageError("The browser reported an impossible file size; please choose the photo again.")
    shown = math.ceil(size / MIB * 10) / 10 * MIB  # rounded up: a file just over 1 MB never reads "1 MB"
    return ImageError(f"The file is {_mb(shown)} MB, more than the {_mb(limit)} MB limit for images.")


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
        raise size_error(size, max_bytes)
    return handle


def _bomb_message(limit: int | None) -> str:
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


def _box(size: tuple[int, int], least: tuple[int, int] | None, longest: int | None) -> tuple[int, int] | None:
    """The smallest (width, height) a reduced decode may go down to: `least` in both sides, and the
    longest side at least `longest` (the other side in proportion); None: full size."""
    if least is None and longest is None:
        return None
    width, height = size
    box_w, box_h = least or (1, 1)
    if longest is not None:
        scale = longest / max(width, height, 1)
        box_w, box_h = max(box_w, math.ceil(width * scale)), max(box_h, math.ceil(height * scale))
    return box_w, box_h


def _reduce(image: Image.Image, box: tuple[int, int] | None) -> Image.Image:
    """Shrink a decoded picture by a whole factor, never below `box`, before anything else copies it."""
    if box is None:
        return image
    factor = min(image.width // box[0], image.height // box[1])
    if factor < 2:
        return image
    if image.mode in _BOX_REDUCIBLE_MODES:
        return image.reduce(factor)  # a box filter: no aliasing, and the only full-size copy is the decode
    # Palettes, 1-bit and 16-bit: averaging palette indices or bits means nothing, so pick pixels.
    return image.resize((image.width // factor, image.height // factor), Image.Resampling.NEAREST)


def _decoded_bytes(image: Image.Image) -> int:
    bands = len(image.getbands())
    return image.width * image.height * bands * (2 if image.mode in _SIXTEEN_BIT_MODES else 1)


def _decode(image: Image.Image, box: tuple[int, int] | None) -> Image.Image:
    """Decode (JPEG at a reduced scale when `box` allows), reduce, make upright RGB."""
    if box is not None and image.format == "JPEG":
        image.draft(None, box)  # decodes at 1/2, 1/4 or 1/8 scale, never below the box; sets image.size
    if _decoded_bytes(image) > LARGE_DECODE_BYTES:
        if not _LARGE_DECODE.acquire(timeout=LARGE_DECODE_WAIT_S):
            raise ImageError("The server is busy with other large photos; please try again in a moment.")
        try:
            image.load()
            reduced = _reduce(image, box)
        finally:
            _LARGE_DECODE.release()
    else:
        image.load()  # full decode now, so truncated files fail here (LOAD_TRUNCATED_IMAGES stays False)
        reduced = _reduce(image, box)
    return _to_rgb(ImageOps.exif_transpose(reduced))


def _open(source: str | Path | bytes, max_bytes: int | None, max_pixels: int | None,
          least: tuple[int, int] | None = None, longest: int | None = None,
          formats: tuple[str, ...] | None = None) -> Image.Image:
    handle = _read_source(source, max_bytes)
    limit = min(filter(None, (max_pixels, Image.MAX_IMAGE_PIXELS)), default=None)
    try:
        # The warnings filter list is process-wide: with threads decoding in parallel, overlapping
        # catch_warnings blocks could leave our filter installed for good, hence the lock. Pillow only
        # warns between 1x and 2x its pixel limit; such an image is still a bomb to us.
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(handle, formats=formats)  # reads the header only
        with image:
            # Our limit, checked on the header before a single pixel is decoded (Pillow's own check
            # too, for when another library's catch_warnings hid its warning meanwhile).
            if limit and image.width * image.height > limit:
                raise ImageError(_bomb_message(limit))
            return _decode(image, _box(image.size, least, longest))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(_bomb_message(limit)) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError("The file is not a photo we can use; please use a JPEG, PNG, WebP or HEIC photo.") from exc
    except MemoryError as exc:
        raise ImageError("The image is too large to be processed right now; please use a smaller photo.") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError("The image is damaged or incomplete (was the upload cut off?), so it cannot be read.") from exc


def open_image(source: str | Path | bytes, *, max_bytes: int | None = None, longest: int | None = None) -> Image.Image:
    """Decode `source` (a path or bytes) into an 8-bit RGB image, upright.

    `max_bytes` limits the file size (None: no limit, for trusted catalogue files); Pillow's pixel
    limit (`Image.MAX_IMAGE_PIXELS`) always applies. With `longest`, the picture may be decoded
    at a reduced scale whose longest side is still at least `longest` pixels (callers that shrink
    it anyway, such as thumbnails, save the memory and time of the full size).
    """
    return _open(source, max_bytes, None, longest=longest)


def open_upload(data: bytes, *, max_bytes: int, longest: int) -> Image.Image:
    """A shopper's photo, decoded once with the upload limits: `max_bytes`, `UPLOAD_MAX_PIXELS`, one of
    `UPLOAD_FORMATS`, and reduced to a longest side of at least `longest` pixels (what is kept of it on the server)."""
    return _open(data, max_bytes, UPLOAD_MAX_PIXELS, longest=longest, formats=UPLOAD_FORMATS)


def upright_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a photo as it is shown, after its EXIF rotation, read from its header alone.

    A reduced decode keeps the proportions, not the pixels: boxes found on it are given back in these.
    """
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        turned = image.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientations a quarter turn away
    return (height, width) if turned else (width, height)


def fit_to_model(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A decoded image resized (whole, no crop) to the model input `size` = (height, width): uint8 (h, w, 3)."""
    height, width = size
    resized = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(resized, dtype=np.uint8)


def load_for_model(
    source: str | Path | bytes, size: tuple[int, int], *, max_bytes: int | None = None
) -> np.ndarray:
    """Decode and resize in one go, decoding at a reduced scale first (the build's reader)."""
    side = max(size)  # the reduced decode must cover the target in either orientation (EXIF may rotate)
    return fit_to_model(_open(source, max_bytes, None, least=(side, side)), size)
