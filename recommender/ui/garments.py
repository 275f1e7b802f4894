"""The garments of a shopper's uploaded photo, as the search page uses them (`ui.search.look` draws them).

A photo of a person wears several garments (`recommender.looks`). They are found once per photo, when it is
uploaded, on the picture it was decoded to (the one `POST /api/search look=1` and `query --look` look at, so the
page, the API and the CLI agree), and kept in the upload store for every worker and restart; each garment's vector
goes in as its region's vector: choosing a garment searches it without embedding again. A photo kept without
them (from before, or by another head or look settings) has them found on its kept copy.
The chosen garment is the step's region (`Step.region` = the garment's box), so it lives in the URL
like a box dragged by hand.
"""

from __future__ import annotations

import logging

from PIL import Image

from recommender.errors import ImageError, RecommenderError
from recommender.images import open_image
from recommender.looks import WHOLE, Garment, find_garments, finds_garments, index_look_settings
from recommender.query_value import Query
from recommender.recent import Recent
from recommender.ui.query import step_query
from recommender.ui.services import Services
from recommender.ui.state import Step

__all__ = ["GARMENTS_KEPT", "garments_of_upload", "garment_query", "look_of", "opening_step", "chosen",
           "chosen_name"]

log = logging.getLogger(__name__)

GARMENTS_KEPT = 256  # photos whose garments a process keeps in memory


class _Garments:
    """The garments of the most recently used kept photos (finding them embeds ~100 windows)."""

    def __init__(self) -> None:
        self._found: Recent[tuple[str, str], list[Garment]] = Recent(GARMENTS_KEPT)

    def of(self, services: Services, ref: str, picture: Image.Image | None = None) -> list[Garment]:
        """A kept photo's garments: from memory, else as kept in the store, else found on `picture` (the photo as
        uploaded) or, without it, on the kept copy, and kept."""
        key = (str(services.engine.index.path), ref)
        found = self._found.get(key)
        if found is not None:
            return found
        engine = services.engine
        if not finds_garments(engine):  # no head: every photo is one garment, found at no cost
            return [Garment(WHOLE, "", 0.0)]
        recipe = f"{engine.index.model.head} {index_look_settings(engine.index)}"
        kept = _from_json(services.uploads.look(ref, recipe))
        if kept is None:
            kept = self._find(services, ref, picture, recipe)
        self._found.put(key, kept)
        return kept

    @staticmethod
    def _find(services: Services, ref: str, picture: Image.Image | None, recipe: str) -> list[Garment]:
        if picture is None:
            try:
                picture = open_image(services.uploads.photo_path(ref))
            except (ImageError, OSError):
                raise RecommenderError("This photo can no longer be read; please upload it again.") from None
        garments, queries = find_garments(services.engine, picture)
        if garments[0].box != WHOLE:  # each garment's query is its region's: searched without embedding again
            for garment, query in zip(garments, queries):
                services.uploads.keep_region_vector(ref, garment.region, query.to_array())
        try:
            services.uploads.keep_look(ref, recipe, [{"box": list(g.box), "category": g.category,
                                                      "confidence": g.confidence} for g in garments])
        except OSError as exc:  # a full disk: this process keeps them in memory, another finds them again
            log.warning("cannot keep the garments of an uploaded photo: %s", exc)
        return garments


def _from_json(kept: list[dict] | None) -> list[Garment] | None:
    """Garments as `UploadStore.keep_look` kept them (None: none kept, or a file not written by it)."""
    if not kept:
        return None
    try:
        return [Garment(tuple(float(v) for v in g["box"]), str(g["category"]), float(g["confidence"]))
                for g in kept]
    except (TypeError, KeyError, ValueError):
        return None


_garments = _Garments()


def garments_of_upload(services: Services, ref: str, picture: Image.Image | None = None) -> list[Garment]:
    """The garments of a kept photo, surest first; the whole picture alone for a photo of one product. `picture`:
    the photo as uploaded, on its upload (module notes)."""
    return _garments.of(services, ref, picture)


def garment_query(services: Services, ref: str, garment: Garment) -> Query:
    """The query a garment of a kept photo is searched by: its step's (`ui.query.step_query`), so the one found
    with it (kept as its region's vector), or the photo's own for the one garment of a product shot."""
    return step_query(services, (Step("upload", ref, None if garment.box == WHOLE else garment.region),))[0]


def look_of(services: Services, step: Step | None) -> list[Garment]:
    """The garments of an uploaded step worth a chip each (none for a product shot or a catalogue product)."""
    if step is None or step.kind != "upload":
        return []
    garments = garments_of_upload(services, step.ref)
    return garments if len(garments) > 1 else []


def opening_step(services: Services, ref: str, picture: Image.Image | None = None) -> Step:
    """The first step of a new photo (`picture`, as uploaded): its surest garment when it shows several, else the
    whole photo."""
    garments = garments_of_upload(services, ref, picture)
    return Step("upload", ref, garments[0].region if len(garments) > 1 else None)


def chosen(garments: list[Garment], step: Step) -> int | None:
    """The position of the garment the step searches (None: the whole photo or a box dragged by hand)."""
    return next((i for i, g in enumerate(garments) if g.region == step.region), None)


def chosen_name(services: Services, step: Step | None) -> str | None:
    """The category of the garment the step searches, to name it on the page (None: no garment chosen)."""
    if step is None or step.region is None:
        return None
    try:
        garments = look_of(services, step)
    except RecommenderError:  # the photo is gone: the page says so elsewhere
        return None
    position = chosen(garments, step)
    return None if position is None else garments[position].category
