"""Small JPEG thumbnails of catalogue products and of the shoppers' kept query photos.

A results page shows ten products; sending the full-size catalogue images (up to several MB each
in a real shop) would make it slow, so each product image is shrunk once, cached on disk and
served from there afterwards. The cache is keyed by a hash, never by a name from a request, so no
request can choose a path on disk.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from recommender.atomic import atomic_write
from recommender.catalog import Product
from recommender.images import open_image

__all__ = ["ThumbnailCache"]

JPEG_QUALITY = 85


def _shrunk(image: Image.Image, height: int) -> Image.Image:
    """A copy no taller than `height` (and no wider than twice that), aspect ratio kept."""
    image = image.copy()
    image.thumbnail((2 * height, height), Image.Resampling.LANCZOS)
    return image


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


class ThumbnailCache:
    """Resized JPEGs of product images in `cache_dir`, made on first use and reused afterwards.

    320 px tall by default: a result card shows its image about 250 CSS px tall, so this stays
    sharp on high-density phone screens while weighing a few tens of KB.
    """

    def __init__(self, cache_dir: str | Path, height: int = 320) -> None:
        self.cache_dir = Path(cache_dir)
        self.height = height

    def path_for(self, image: Path) -> Path:
        """Where the thumbnail of an image file lives: a hash of its path, size, mtime and the height.

        The file's size and modification time are part of the key so that a rebuilt or different
        catalogue reusing the same paths or ids never gets stale thumbnails.
        """
        stat = image.stat()
        key = f"{image}\0{stat.st_size}\0{stat.st_mtime_ns}\0{self.height}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.jpg"

    def get(self, product: Product) -> Path:
        """The path of the product's thumbnail, made when missing (see `of_file`)."""
        return self.of_file(product.image)

    def of_file(self, image: Path) -> Path:
        """The path of an image file's thumbnail, making it when missing.

        Raises ImageError when the image cannot be read, and OSError when it is gone. Concurrent
        requests for the same image each write their own temporary file and atomically replace the
        target, so a reader never sees a half-written JPEG.
        """
        target = self.path_for(image)
        if target.exists():
            return target
        data = _jpeg_bytes(_shrunk(open_image(image, longest=2 * self.height), self.height))
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, "wb") as out:
            out.write(data)
        return target
