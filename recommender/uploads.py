"""Shoppers' query photos, kept on the server so a browser holds only a short reference.

An upload is decoded once (by the caller, who validated it), its vector computed once, and both a
reduced copy of the picture and the vector are written under the hash of the uploaded bytes. Every
app process (gunicorn workers, app servers sharing the folder) can then re-rank, show the photo and
record votes by reference alone, instead of 40 KB of vector travelling with every click.
The folder is bounded: beyond `max_photos` the least recently used photos are removed, and a
reference to a removed photo gets a sentence asking for the photo again. A region of a kept photo
(`recommender.regions.Box`) is searched by re-embedding that crop of the kept copy, whose 1024 px
keep enough detail for a part of the photo; its vector is kept beside the photo's.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from recommender.atomic import atomic_write
from recommender.errors import ImageError, RecommenderError
from recommender.images import open_image
from recommender.regions import Box

__all__ = ["UploadGone", "UploadStore", "upload_ref"]

log = logging.getLogger(__name__)

REF_PATTERN = re.compile(r"[0-9a-f]{64}")
STORED_SIDE = 1024  # longest side of the kept copy: enough to re-crop a region, small on disk
JPEG_QUALITY = 90
VECTORS_IN_MEMORY = 256


class UploadGone(RecommenderError):
    """A reference to a photo the server no longer keeps (or never had)."""


def upload_ref(data: bytes) -> str:
    """The reference of an upload: the SHA-256 of its bytes (the same photo twice is one reference)."""
    return hashlib.sha256(data).hexdigest()


class UploadStore:
    """Photos and their query vectors under `folder`, at most `max_photos`, least recently used dropped."""

    def __init__(self, folder: str | Path, *, max_photos: int = 1000) -> None:
        self.folder = Path(folder)
        self.max_photos = max_photos
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _paths(self, ref: str) -> tuple[Path, Path]:
        if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref):
            raise UploadGone("This search's photo reference is not valid; please upload the photo again.")
        return self.folder / f"{ref}.jpg", self.folder / f"{ref}.npy"

    def add(self, data: bytes, image: Image.Image, embed: Callable[[Image.Image], np.ndarray]) -> str:
        """Keep a validated upload (its bytes and decoded picture) and its vector; return its reference."""
        ref = upload_ref(data)
        photo, vector_path = self._paths(ref)
        if photo.exists() and vector_path.exists():
            os.utime(photo)  # recently used again
            return ref
        vector = np.asarray(embed(image), dtype=np.float32)
        reduced = image.copy()
        reduced.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        reduced.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(vector_path, "wb") as handle:
                np.save(handle, vector, allow_pickle=False)
            with atomic_write(photo, "wb") as handle:  # the photo last: its presence means complete
                handle.write(buffer.getvalue())
        except OSError as exc:  # a full or read-only disk: the shopper gets a sentence, the log the cause
            log.error("cannot keep an uploaded photo in %s: %s", self.folder, exc)
            raise RecommenderError("Your photo cannot be kept on the server right now; please try again later.") \
                from exc
        self._remember(ref, vector)
        self._prune()
        return ref

    def _remember(self, ref: str, vector: np.ndarray) -> None:
        with self._lock:
            self._vectors[ref] = vector
            self._vectors.move_to_end(ref)
            while len(self._vectors) > VECTORS_IN_MEMORY:
                self._vectors.popitem(last=False)

    def vector(self, ref: str) -> np.ndarray:
        """The query vector of a kept photo (UploadGone when it is no longer kept)."""
        _, vector_path = self._paths(ref)
        return self._load(ref, vector_path)

    def _load(self, key: str, vector_path: Path) -> np.ndarray:
        with self._lock:
            cached = self._vectors.get(key)
        if cached is not None:
            return cached
        try:
            vector = np.load(vector_path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            raise UploadGone("This photo is no longer kept on the server; please upload it again.") from None
        self._remember(key, vector)
        return vector

    def region_vector(self, ref: str, box: Box, embed: Callable[[Image.Image], np.ndarray]) -> np.ndarray:
        """The query vector of one part of a kept photo: that crop of the kept copy, embedded once."""
        photo = self.photo_path(ref)  # UploadGone once the photo is no longer kept, cached vector or not
        key = f"{ref}@{box.key()}"
        region_path = self.folder / f"{key}.npy"
        try:
            return self._load(key, region_path)
        except UploadGone:
            pass
        try:
            image = open_image(photo)
        except (ImageError, OSError):
            raise UploadGone("This photo is no longer kept on the server; please upload it again.") from None
        vector = np.asarray(embed(box.crop(image)), dtype=np.float32)
        with atomic_write(region_path, "wb") as handle:
            np.save(handle, vector, allow_pickle=False)
        os.utime(photo)  # recently used again
        self._remember(key, vector)
        return vector

    def photo_path(self, ref: str) -> Path:
        """The kept copy of the photo, to show it back (UploadGone when it is no longer kept)."""
        photo, _ = self._paths(ref)
        if not photo.is_file():
            raise UploadGone("This photo is no longer kept on the server; please upload it again.")
        return photo

    def _prune(self) -> None:
        """Remove the least recently used photos beyond `max_photos` (racing workers may both try)."""
        photos = sorted(self.folder.glob("*.jpg"), key=lambda p: _mtime(p))
        for photo in photos[: max(0, len(photos) - self.max_photos)]:
            photo.unlink(missing_ok=True)
            photo.with_suffix(".npy").unlink(missing_ok=True)
            for region in self.folder.glob(f"{photo.stem}@*.npy"):
                region.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
