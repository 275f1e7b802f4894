"""Image routes: `/thumbnail/<catalogue id>` and `/upload/<photo reference>` -> a small cached JPEG.

A product id is only ever a key into the loaded index, and a photo reference a SHA-256 that the
upload store checks; the file served is the cache's hash-named copy. A request can therefore never
name a file: unknown ids, and ids that look like paths (`../../etc/passwd`), get a 404.
"""

from __future__ import annotations

import logging
from pathlib import Path

import flask
from dash.exceptions import DependencyException
from werkzeug.routing import BaseConverter

from recommender.errors import ImageError
from recommender.ui.services import get_services
from recommender.uploads import UploadGone

__all__ = ["register_routes", "thumbnail_path", "upload_path", "THUMBNAIL_MAX_AGE_S"]

log = logging.getLogger(__name__)

THUMBNAIL_MAX_AGE_S = 24 * 3600  # a day: a rebuilt catalogue may reuse ids with new images
THUMBNAIL_ROUTE = "thumbnail"
UPLOAD_ROUTE = "upload"


class AnyText(BaseConverter):
    """The rest of the URL as is, slashes included: ids may hold anything, being only dictionary keys.

    Werkzeug's `path` converter refuses a leading slash, which would let `/thumbnail//etc/passwd`
    fall through to Dash's catch-all page route; with this one, every `/thumbnail/...` URL is ours.
    """

    regex = "[\\s\\S]*"  # line breaks too: an id with a CR or LF is an unknown id (404), not an unrouted URL
    part_isolating = False


def thumbnail_path(product_id: str) -> str:
    """The route of a product's thumbnail, relative to the app's prefix (quote it into a URL)."""
    return f"/{THUMBNAIL_ROUTE}/{product_id}"


def upload_path(ref: str) -> str:
    return f"/{UPLOAD_ROUTE}/{ref}"


def _send(path: Path, max_age: int) -> flask.Response:
    return flask.send_file(path, mimetype="image/jpeg", max_age=max_age, conditional=True)


def thumbnail(product_id: str) -> flask.Response:
    services = get_services()
    try:
        product = services.engine.index.product(product_id)
    except KeyError:
        flask.abort(404)
    try:
        return _send(services.thumbnails.get(product), THUMBNAIL_MAX_AGE_S)
    except (ImageError, OSError) as exc:
        log.warning("no thumbnail for product %r: %s", product_id, exc)
        flask.abort(404)


def uploaded_photo(ref: str) -> flask.Response:
    """A shopper's kept query photo, shrunk: only its reference (a SHA-256) can name it."""
    services = get_services()
    try:
        return _send(services.thumbnails.of_file(services.uploads.photo_path(ref)), THUMBNAIL_MAX_AGE_S)
    except (UploadGone, ImageError, OSError):
        flask.abort(404)


def not_found(_exc: Exception) -> tuple[str, int]:
    """Dash answers a request for a script it does not serve (`/_dash-component-suites/../x`) with an
    exception, i.e. a 500 and a traceback in the log for every scanner probing the shop: it is a 404."""
    return "Not found", 404


def register_routes(server: flask.Flask, prefix: str = "/") -> None:
    server.url_map.converters["anytext"] = AnyText
    server.add_url_rule(f"{prefix}{THUMBNAIL_ROUTE}/<anytext:product_id>", THUMBNAIL_ROUTE, thumbnail)
    server.add_url_rule(f"{prefix}{UPLOAD_ROUTE}/<anytext:ref>", UPLOAD_ROUTE, uploaded_photo)
    server.register_error_handler(DependencyException, not_found)
