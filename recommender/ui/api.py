"""The JSON API beside the pages, for shops that integrate without the UI (and for the benchmark).

  POST /api/search         multipart form: `photo` (the image file), optional `k` (1-100, default 10),
                           repeated `filter` fields `KEY=VALUE` and `look=1` (shop the look: each garment)
  GET  /api/similar/<id>   more like a catalogue product; optional `k` and repeated `filter` parameters

Both answer `{"query": {"kind", "ref"}, "results": [{"rank", "id", "match", "distance", "attributes",
"image"}, ...], "tags": [{"attribute", "value", "confidence", "role", "source"}, ...], "notes": [...]}`
with the same records and tags as `query --json` (the image as the URL of its thumbnail), or an error status with `{"error": "one sentence"}`: 400 for bad input (the same
limits and sentences as the search page), 404 for an unknown product or path, 405 for a wrong
method, 413 for a body over the upload limit, 503 when the model cannot be loaded. Several
`filter` values of one key mean OR, different keys AND. With `look=1` the answer holds
`"garments": [{"box", "category", "confidence", "results"}]` instead of the results and tags, as
`query --look --json` prints them (boxes in the pixels of the photo sent, after its EXIF rotation), and keeps
them with the photo as the search page does: the page opened on its `ref` shows the same garments.
Each photo search is logged for the merchant's Trends page as the search page's are (its tags only).
"""

from __future__ import annotations

import logging
import re

import flask
from PIL import Image
from werkzeug.exceptions import RequestEntityTooLarge

from recommender.engine import hit_record
from recommender.errors import RecommenderError, WeightsUnavailable
from recommender.filters import parse_filter_items, unknown_values
from recommender.images import MIB, upright_size
from recommender.index import Hit
from recommender.looks import WHOLE, Garment, look_json
from recommender.selection import Selection
from recommender.tags import Tag
from recommender.trends import log_search
from recommender.ui.garments import garment_query, garments_of_upload
from recommender.ui.guard import public_message
from recommender.ui.routes import THUMBNAIL_ROUTE
from recommender.ui.services import get_services

__all__ = ["MAX_K", "register_api"]

log = logging.getLogger(__name__)

MAX_K = 100


class ApiError(Exception):
    def __init__(self, status: int, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.allow = status, allow  # allow: the methods a 405's path takes


def _k() -> int:
    """`k`, written in ASCII digits only: Python's int() would also take " 5", "+5", "5_0" and "٥"."""
    text = flask.request.values.get("k", "10")
    if not re.fullmatch(r"[0-9]{1,4}", text):
        raise ApiError(400, f"k must be a whole number from 1 to {MAX_K}, not {text[:20]!r}.")
    k = int(text)
    if not 1 <= k <= MAX_K:
        raise ApiError(400, f"k must be a whole number from 1 to {MAX_K}, not {k}.")
    return k


def _filters() -> tuple[dict[str, list[str]], list[str]]:
    filters = parse_filter_items(flask.request.values.getlist("filter"))
    return filters, unknown_values(get_services().engine.index, filters)


def _record(hit: Hit) -> dict:
    return {**hit_record(hit), "image": flask.url_for(THUMBNAIL_ROUTE, product_id=hit.id)}


def _answer(kind: str, ref: str, hits: list[Hit], tags: list[Tag], notes: list[str]) -> flask.Response:
    results = [_record(hit) for hit in hits]
    return flask.jsonify({"query": {"kind": kind, "ref": ref}, "results": results,
                          "tags": [tag.to_json() for tag in tags], "notes": notes})


def search() -> flask.Response:
    """POST /api/search: a photo's lookalikes."""
    services = get_services()
    photo = flask.request.files.get("photo")
    if photo is None:
        raise ApiError(400, "Send the photo as a multipart/form-data field named 'photo'.")
    k, (filters, notes), look = _k(), _filters(), _look()
    data = photo.read(services.settings.max_upload_bytes + 1)
    ref, picture = services.add_upload_picture(data)
    engine = services.engine
    query = engine.stored_query(services.uploads.vector(ref))
    tags = engine.tags(query)
    if look:
        found = _each_garment(ref, picture, k, engine.select(filters), tags)
        log_search(engine, services.feedback, query, tags)  # the Trends page: the whole photo's kind
        return flask.jsonify({"query": {"kind": "upload", "ref": ref}, **look_json(found, upright_size(data), _record),
                              "notes": notes})
    hits = engine.search(query, k, engine.select(filters))
    log_search(engine, services.feedback, query, tags, None if filters else hits)  # the Trends page
    return _answer("upload", ref, hits, tags, notes)


def _each_garment(ref: str, picture: Image.Image, k: int, selection: Selection,
                  tags: list[Tag]) -> list[tuple[Garment, list[Hit]]]:
    """Each garment of a photo just uploaded with its k results, found and kept as the search page finds and keeps
    them (`ui.garments`): the page opened on the same photo shows the same garments, boxes and results. A photo of
    one product is one garment, the whole photo, named by its category tag (`tags`) and with its own results."""
    services = get_services()
    garments = garments_of_upload(services, ref, picture)
    if len(garments) == 1:
        tag = next((tag for tag in tags if tag.role == "category"), None)
        garments = [Garment(WHOLE, tag.value, tag.confidence) if tag else garments[0]]
    return [(garment, services.engine.search(garment_query(services, ref, garment), k, selection))
            for garment in garments]


def _look() -> bool:
    text = flask.request.values.get("look", "0")
    if text not in ("0", "1"):
        raise ApiError(400, f"look must be 1 (find each garment) or 0, not {text[:20]!r}.")
    return text == "1"


def similar(product_id: str) -> flask.Response:
    """GET /api/similar/<id>: more like a catalogue product (itself left out)."""
    engine = get_services().engine
    try:
        engine.index.position(product_id)
    except KeyError:
        raise ApiError(404, f"No product with id {product_id[:100]!r} in this catalogue.") from None
    k, (filters, notes) = _k(), _filters()
    query, exclude = engine.product_query(product_id), (product_id,)
    return _answer("item", product_id, engine.search(query, k, engine.select(filters, exclude)),
                   engine.tags(query, exclude), notes)


def not_here(**_: str) -> flask.Response:
    """Every other /api path and method gets a JSON answer, not the shop's HTML page."""
    if flask.request.endpoint == "api.search_other":
        raise ApiError(405, "Send the photo with POST, as multipart/form-data.", allow="POST")
    if flask.request.endpoint == "api.similar_other":
        raise ApiError(405, "Ask for similar products with GET.", allow="GET, HEAD")
    raise ApiError(404, "There is no such API endpoint: use POST /api/search or GET /api/similar/<id>.")


def _error(status: int, message: str, allow: str | None = None) -> tuple[flask.Response, int]:
    response = flask.jsonify({"error": message})
    if allow:
        response.headers["Allow"] = allow
    return response, status


def _too_large() -> str:
    """Flask refuses a body over its length limit, and also a form of too many parts or too long a field."""
    request = flask.request
    if (request.content_length or 0) > (request.max_content_length or float("inf")):
        return f"The request is larger than the {get_services().settings.max_upload_bytes / MIB:g} MB limit for images."
    return (f"The request has more than {request.max_form_parts:,} parts, or a field other than the photo over "
            f"{request.max_form_memory_size // 1000:,} KB; send one photo and fewer filters.")


def _handle(exc: Exception) -> tuple[flask.Response, int]:
    if isinstance(exc, ApiError):
        return _error(exc.status, str(exc), exc.allow)
    if isinstance(exc, RequestEntityTooLarge):
        return _error(413, _too_large())
    if isinstance(exc, WeightsUnavailable):
        log.error("API: the model cannot be loaded: %s", exc)
        return _error(503, "The image model is not available right now; please try again later.")
    if isinstance(exc, RecommenderError):
        return _error(400, public_message(exc, "This request cannot be answered right now; please try again later."))
    raise exc


def register_api(server: flask.Flask, prefix: str = "/") -> None:
    api = flask.Blueprint("api", __name__, url_prefix=f"{prefix}api")
    api.add_url_rule("/search", "search", search, methods=["POST"])
    api.add_url_rule("/search", "search_other", not_here, methods=["GET", "PUT", "DELETE", "PATCH"])
    api.add_url_rule("/similar/<anytext:product_id>", "similar", similar, methods=["GET"])
    api.add_url_rule("/similar/<anytext:product_id>", "similar_other", not_here, methods=["POST", "PUT", "DELETE",
                                                                                          "PATCH"])
    api.add_url_rule("/<anytext:rest>", "other", not_here, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    for error in (ApiError, RequestEntityTooLarge, RecommenderError):
        api.register_error_handler(error, _handle)
    server.register_blueprint(api)
