"""The thumbnail route: `/thumbnail/<catalogue id>` -> a small cached JPEG.

The id is only ever a key into the loaded index; the file served is the cache's hash-named copy
of the product's own image. A request can therefore never name a file: unknown ids, and ids
that look like paths (`../../etc/passwd`), get a 404.
"""

from __future__ import annotations

import logging

import flask
from dash.exceptions import DependencyException
from werkzeug.routing import BaseConverter

from recommender.errors import ImageError
from recommender.ui.services import get_services

__all__ = ["register_routes", "THUMBNAIL_MAX_AGE_S"]

log = logging.getLogger(__name__)

THUMBNAIL_MAX_AGE_S = 24 * 3600  # a day: a rebuilt catalogue may reuse ids with new images


class AnyText(BaseConverter):
    """The rest of the URL as is, slashes included: ids may hold anything, being only dictionary keys.

    Werkzeug's `path` converter refuses a leading slash, which would let `/thumbnail//etc/passwd`
    fall through to Dash's catch-all page route; with this one, every `/thumbnail/...` URL is ours.
    """

    regex = ".*"
    part_isolating = False


def thumbnail(product_id: str) -> flask.Response:
    services = get_services()
    try:
        product = services.engine.index.product(product_id)
    except KeyError:
        flask.abort(404)
    try:
        path = services.thumbnails.get(product)
    except (ImageError, OSError) as exc:
        log.warning("no thumbnail for product %r: %s", product_id, exc)
        flask.abort(404)
    return flask.send_file(path, mimetype="image/jpeg", max_age=THUMBNAIL_MAX_AGE_S, conditional=True)


def not_found(_exc: Exception) -> tuple[str, int]:
    """Dash answers a request for a script it does not serve (`/_dash-component-suites/../x`) with an
    exception, i.e. a 500 and a traceback in the log for every scanner probing the shop: it is a 404."""
    return "Not found", 404


def register_routes(server: flask.Flask, prefix: str = "/") -> None:
    server.url_map.converters["anytext"] = AnyText
    server.add_url_rule(f"{prefix}thumbnail/<anytext:product_id>", "thumbnail", thumbnail)
    server.register_error_handler(DependencyException, not_found)
