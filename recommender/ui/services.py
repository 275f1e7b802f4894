"""The process-wide objects the app's pages and API share: settings, engine, votes, thumbnails, uploads.

A shopper's search lives in the browser's URL as small references (see `ui.state`); these
objects are shared, and each is safe to use from the server's threads: the index is read-only,
the engine loads its model once under a lock, the feedback store opens a connection per call, and
the upload store writes each file atomically. They hang on the Flask app (`server.extensions`),
so two apps in one process (as in tests) never mix their services.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cached_property

import flask
import numpy as np
from PIL import Image

from recommender.demo_index import ensure_demo_index
from recommender.engine import Recommender
from recommender.feedback import FeedbackStore
from recommender.images import open_upload
from recommender.settings import Settings
from recommender.text_search import TextIndex
from recommender.thumbnails import ThumbnailCache
from recommender.uploads import STORED_SIDE, UploadStore, kept_photos_folder

__all__ = ["Services", "create_services", "start_warm_up", "install_services", "get_services"]

log = logging.getLogger(__name__)

_EXTENSION = "recommender"
WARM_UP_DELAY_S = 5.0  # longest wait for a first request before loading the model anyway


@dataclass
class Services:
    settings: Settings
    engine: Recommender
    feedback: FeedbackStore
    thumbnails: ThumbnailCache
    uploads: UploadStore

    def add_upload(self, data: bytes) -> str:
        """Validate and decode an uploaded photo (once), keep it with its vector; return its reference.

        A bad file gets its one-sentence ImageError before the model is touched; a large one is
        decoded straight to the size kept on the server (see `recommender.images.open_upload`).
        """
        return self.add_upload_picture(data)[0]

    def add_upload_picture(self, data: bytes) -> tuple[str, Image.Image]:
        """`add_upload`, with the picture the photo was decoded to (what shop the look searches in)."""
        image = open_upload(data, max_bytes=self.settings.max_upload_bytes, longest=STORED_SIDE)
        return self.uploads.add(data, image, self.embed_for_store), image

    def embed_for_store(self, image: Image.Image) -> np.ndarray:
        """A picture's query as the uploads store keeps it (`Query.to_array`)."""
        return self.engine.embed_image(image).to_array()

    @cached_property
    def text_index(self) -> TextIndex:
        """TF-IDF over the products' names, built on the first text search (a second or two for 44k)."""
        index = self.engine.index
        return TextIndex.of_products(index.products, index.roles.name)

    @cached_property
    def common_words(self) -> list[str]:
        """Words of the catalogue's names to suggest in the word box ("dress, black")."""
        return self.text_index.common_words()

    def similarity(self, distance: float) -> float | None:
        """How alike a result's picture looks, 0..1 (`recommender.match.alike`): the card's title says it."""
        return self.engine.ranker.alike(distance)


def create_services(settings: Settings, engine: Recommender | None = None) -> Services:
    """Open the index (memory-mapped: fast); `start_warm_up` then loads the model in the background.

    Without an index in the settings the embedded demo catalogue is used, built on first run.
    `engine` replaces the one the settings describe (an app embedded elsewhere, tests).
    """
    if engine is None:
        engine = Recommender.open(settings.index or ensure_demo_index(settings))
    return Services(
        settings=settings,
        engine=engine,
        feedback=FeedbackStore(settings.feedback_target),
        thumbnails=ThumbnailCache(settings.thumbnail_dir),
        uploads=UploadStore(kept_photos_folder(settings.upload_dir, engine.index.model)),
    )


def start_warm_up(services: Services, first_request: threading.Event) -> threading.Thread:
    """Load the model and the similarity scale in a thread, so the first shopper does not wait.

    Importing TensorFlow holds the interpreter lock for seconds, so the thread lets the first
    request be answered before it starts (or starts after WARM_UP_DELAY_S without one). A query
    that needs the model before it is ready waits for it (the engine loads it once, under a lock).
    """
    thread = threading.Thread(target=_warm_up, args=(services, first_request), name="model-loader", daemon=True)
    thread.start()
    return thread


def _warm_up(services: Services, first_request: threading.Event) -> None:
    first_request.wait(WARM_UP_DELAY_S)
    try:
        extractor = services.engine.extractor
        height, width = extractor.input_size
        extractor.embed(np.zeros((1, height, width, 3), dtype=np.uint8))
        services.engine.ranker.typical_distance  # noqa: B018 - computed for its cache
        services.common_words  # noqa: B018 - the word box's suggestion, on every page
    except Exception:  # the first query raises the same error where the shopper sees it
        log.exception("warming up the model failed")


def install_services(server: flask.Flask, services: Services) -> None:
    server.extensions[_EXTENSION] = services


def get_services() -> Services:
    """The services of the app answering the current request."""
    return flask.current_app.extensions[_EXTENSION]
