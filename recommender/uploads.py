"""Shoppers' query photos, kept on the server so a browser holds only a short reference.

An upload is decoded once (by the caller, who validated it), its vector computed once, and both a
reduced copy of the picture and the vector are written under the hash of the uploaded bytes. Every
app process (gunicorn workers, app servers sharing the folder) can then re-rank, show the photo and
record votes by reference alone, instead of 40 KB of vector travelling with every click.
The folder is bounded: beyond `max_photos` photos or `max_bytes` on disk (photos, vectors and
region vectors together) the least recently used photos are removed with their vectors, and a
reference to a removed photo gets a sentence asking for the photo again. A disk with less than
`min_free_bytes` free keeps no new photo (the shopper gets a sentence): the votes need that space. A region of a kept photo
(`recommender.regions.Box`) is searched by re-embedding that crop of the kept copy, whose 1024 px
keep enough detail for a part of the photo; its vector is kept beside the photo's. So are the garments a look
found in it (`keep_look`): found once on the photo as uploaded, every process shows the same ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from recommender.atomic import atomic_write
from recommender.errors import ImageError, RecommenderError
from recommender.images import open_image
from recommender.model_spec import ModelSpec
from recommender.regions import Box

__all__ = ["UploadGone", "UploadStore", "kept_photos_folder", "upload_ref", "STORED_SIDE"]

log = logging.getLogger(__name__)

REF_PATTERN = re.compile(r"[0-9a-f]{64}")
STORED_SIDE = 1024  # longest side of the kept copy: enough to re-crop a region, small on disk
JPEG_QUALITY = 90
VECTORS_IN_MEMORY = 256
MAX_BYTES = 500 * 2**20  # 1,000 photos of 1024 px take about 250 MB; region vectors come on top
MIN_FREE_BYTES = 1 * 2**30  # below this much free disk, no new photo is kept
NOT_KEPT = "Your photo cannot be kept on the server right now; please try again later."


class UploadGone(RecommenderError):
    """A reference to a photo the server no longer keeps (or never had)."""


def upload_ref(data: bytes) -> str:
    """The reference of an upload: the SHA-256 of its bytes (the same photo twice is one reference)."""
    return hashlib.sha256(data).hexdigest()


def kept_photos_folder(root: str | Path, model: ModelSpec) -> Path:
    """The folder of the photos kept for one model's index: a kept vector means something only in the space of
    the model that made it, so the app keeps them there and `learn` reads them there (a rebuild with another
    model or head starts a new folder)."""
    return Path(root) / model.slug


class UploadStore:
    """Photos and their query vectors under `folder`, at most `max_photos`, least recently used dropped."""

    def __init__(self, folder: str | Path, *, max_photos: int = 1000, max_bytes: int = MAX_BYTES,
                 min_free_bytes: int = MIN_FREE_BYTES) -> None:
        self.folder = Path(folder)
        self.max_photos, self.max_bytes, self.min_free_bytes = max_photos, max_bytes, min_free_bytes
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _paths(self, ref: str) -> tuple[Path, Path]:
        if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref):
            raise UploadGone("This search's photo reference is not valid; please upload the photo again.")
        return self.folder / f"{ref}.jpg", self.folder / f"{ref}.npy"

    def _region(self, ref: str, box: Box) -> tuple[str, Path]:
        """The key (in memory) and the file (on disk) of one part's vector of a kept photo."""
        key = f"{ref}@{box.key()}"
        return key, self.folder / f"{key}.npy"

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
            self._check_free_space()
            with atomic_write(vector_path, "wb") as handle:
                np.save(handle, vector, allow_pickle=False)
            with atomic_write(photo, "wb") as handle:  # the photo last: its presence means complete
                handle.write(buffer.getvalue())
        except OSError as exc:  # a full or read-only disk: the shopper gets a sentence, the log the cause
            log.error("cannot keep an uploaded photo in %s: %s", self.folder, exc)
            raise RecommenderError(NOT_KEPT) from exc
        self._remember(ref, vector)
        self._prune()
        return ref

    def _check_free_space(self) -> None:
        free = shutil.disk_usage(self.folder).free
        if free < self.min_free_bytes:
            log.error("keeping no uploaded photo in %s: %d MB free on its disk, less than the %d MB kept for votes",
                      self.folder, free // 2**20, self.min_free_bytes // 2**20)
            raise RecommenderError(NOT_KEPT)

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
        key, region_path = self._region(ref, box)
        try:
            return self._load(key, region_path)
        except UploadGone:
            pass
        try:
            image = open_image(photo)
        except (ImageError, OSError):
            raise UploadGone("This photo is no longer kept on the server; please upload it again.") from None
        return self.keep_region_vector(ref, box, embed(box.crop(image)))

    def keep_region_vector(self, ref: str, box: Box, vector: np.ndarray) -> np.ndarray:
        """Keep `vector` as the query of one part of a kept photo, replacing any kept before (a look's garment:
        its query is worked out from the whole look, not its crop alone, and may change with the code)."""
        photo = self.photo_path(ref)
        key, region_path = self._region(ref, box)
        vector = np.asarray(vector, dtype=np.float32)
        self._remember(key, vector)
        try:
            with atomic_write(region_path, "wb") as handle:
                np.save(handle, vector, allow_pickle=False)
            os.utime(photo)  # recently used again
        except OSError as exc:  # a full disk: this process answers from memory, another embeds the part again
            log.warning("cannot keep the vector of a part of an uploaded photo: %s", exc)
            return vector
        self._prune()  # region vectors count in the disk budget too
        return vector

    def _look_path(self, ref: str) -> Path:
        """The file of the garments kept for a photo (UploadGone once the photo is no longer kept)."""
        return self.photo_path(ref).with_name(f"{ref}.look.json")

    def keep_look(self, ref: str, recipe: str, garments: list[dict]) -> None:
        """Keep the garments found in a kept photo (`recommender.ui.garments`), for every process and restart:
        found once on the photo as uploaded, as the API and the CLI find them, not again on the kept copy (its JPEG
        would move a box or swap two garments nearly as sure). `recipe` names what found them (the head and the
        look's settings): garments of another recipe are found again."""
        with atomic_write(self._look_path(ref), "w") as handle:
            json.dump({"recipe": recipe, "garments": garments}, handle)

    def look(self, ref: str, recipe: str) -> list[dict] | None:
        """The garments kept for a photo by `recipe` (None: none kept, another recipe's, or an unreadable file)."""
        try:
            kept = json.loads(self._look_path(ref).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(kept, dict) or kept.get("recipe") != recipe or not isinstance(kept.get("garments"), list):
            return None
        return kept["garments"]

    def photo_path(self, ref: str) -> Path:
        """The kept copy of the photo, to show it back (UploadGone when it is no longer kept)."""
        photo, _ = self._paths(ref)
        if not photo.is_file():
            raise UploadGone("This photo is no longer kept on the server; please upload it again.")
        return photo

    def _prune(self) -> None:
        """Remove the least recently used photos, with their vectors, beyond `max_photos` or `max_bytes`
        (racing workers may both try)."""
        kept: dict[str, _Kept] = {}
        for entry in os.scandir(self.folder):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            files = kept.setdefault(entry.name.lstrip(".")[:64], _Kept())  # a photo's files share its reference
            files.paths.append(Path(entry.path))
            files.bytes += stat.st_size
            files.newest = max(files.newest, stat.st_mtime)
            if entry.name.endswith(".jpg"):
                files.photo_time = stat.st_mtime
        photos, total = sum(k.photo_time is not None for k in kept.values()), sum(k.bytes for k in kept.values())
        for files in sorted(kept.values(), key=lambda k: k.used):
            if photos <= self.max_photos and total <= self.max_bytes:
                break
            for path in files.paths:
                path.unlink(missing_ok=True)
            photos, total = photos - (files.photo_time is not None), total - files.bytes


@dataclass
class _Kept:
    """One reference's files in the folder: its photo, vector and region vectors."""

    paths: list[Path] = field(default_factory=list)
    bytes: int = 0
    photo_time: float | None = None  # the photo's modification time, touched on each use (None: no photo)
    newest: float = 0.0

    @property
    def used(self) -> float:
        """When it was last used: its photo's time, else (vectors alone, being written) its newest file's."""
        return self.newest if self.photo_time is None else self.photo_time
