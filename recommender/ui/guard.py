"""The callback boundary: whatever a client sends to Dash, it gets an answer, never an HTTP 500.

Dash runs every callback through one URL, `_dash-update-component`, with a JSON body that names
the callback (`output`) and carries the values of its inputs and state. A browser running our
pages sends well-formed bodies; anyone else can send anything. Three layers, one per place a bad
body can fail:
  1. before Dash sees it: the body must be JSON (not too deep), shaped as Dash's renderer writes
     it, and name one of this app's server-side callbacks with the right number of inputs and
     state; otherwise 400 with a sentence;
  2. inside a callback: a value of a wrong type or shape that the page's own checks missed (they
     handle every case of tests/test_hostile.py) raises somewhere in the page's code;
     `on_callback_error` (Dash's `on_error`) answers "no update" and logs one line;
  3. around Dash's dispatch: anything else (outputs that do not match the callback) is one log
     line and a 400.
Log lines name the exception and where it was raised, never the body, and are cut to
`LOG_CHARS`, so a 10 MB body cannot become a 10 MB log line.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import flask
from dash import Dash
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import HTTPException

from recommender.errors import RecommenderError, ServerFault
from recommender.ui.limits import PEEK_BYTES, callback_output

__all__ = ["LOG_CHARS", "short", "install_callback_guard", "on_callback_error", "public_message", "upload_outputs"]

log = logging.getLogger(__name__)

LOG_CHARS = 300
MAX_JSON_DEPTH = 64  # Dash's own bodies nest a few levels; the deepest legitimate value is a figure
CALLBACK_ROUTE = "_dash-update-component"
MALFORMED = "This request is not one this page sends; please reload the page."
_SCALARS = (str, int, float, bool)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/[\w.~+-]+/")  # /srv/shop/..., never "1/2" or an id like "dress/blue"


def short(text: object, most: int = LOG_CHARS) -> str:
    """`text` on one line, at most `most` characters: what may go into a log line from a request."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame that raised `exc`: enough to find a bug without a traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _describe(exc: BaseException) -> str:
    return short(f"{type(exc).__name__}: {exc} (at {_where(exc)})")


def on_callback_error(exc: Exception) -> None:
    """Dash's `on_error`: a callback that raised on its inputs answers "no update" (None), logged in one line."""
    name = callback_output(flask.request.get_data(cache=True)[:PEEK_BYTES]) if flask.has_request_context() else None
    log.warning("callback %s failed on its input: %s", short(name, 120), _describe(exc))


def _depth(value: Any, limit: int) -> int:
    """How deep JSON containers nest in `value`, counting no further than `limit` + 1 (iterative)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _is_id(value: Any) -> bool:
    """A component id: a string, or a pattern-matching dict of scalar values."""
    if isinstance(value, str):
        return True
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, _SCALARS) for k, v in value.items())


def _is_prop(value: Any, *, wildcard: bool = True) -> bool:
    """{"id", "property", "value"?}, or (for pattern-matching ALL/ALLSMALLER) a list of them."""
    if wildcard and isinstance(value, list):
        return all(_is_prop(item, wildcard=False) for item in value)
    return isinstance(value, dict) and _is_id(value.get("id")) and isinstance(value.get("property"), str)


def _props(value: Any) -> bool:
    return isinstance(value, list) and all(_is_prop(item) for item in value)


def body_problem(body: Any, callbacks: dict[str, dict]) -> str | None:
    """What is wrong with a callback request body, or None when Dash can run it."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return f"the body nests deeper than {MAX_JSON_DEPTH} levels"
    output = body.get("output")
    if not isinstance(output, str):
        return "output is not a text"
    callback = callbacks.get(output)
    if callback is None or "callback" not in callback:
        return "output names no server callback of this app"
    outputs = body.get("outputs")
    if outputs is not None and not (_is_prop(outputs) or _props(outputs)):
        return "outputs are not component properties"
    inputs, state = body.get("inputs"), body.get("state", [])
    if not _props(inputs) or not _props(state):
        return "inputs or state are not lists of component properties"
    if (len(inputs), len(state)) != (len(callback["inputs"]), len(callback["state"])):
        return "inputs or state do not match the callback"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds is not a list of texts"
    return None


def _refuse(status: int, message: str) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = status
    return response


def upload_outputs(app: Dash, upload_props: Iterable[tuple[str, str]]) -> set[str]:
    """The output keys of the server callbacks that take any of `upload_props` (id, property) as input or state."""
    wanted = set(upload_props)
    return {
        output
        for output, callback in app.callback_map.items()
        if "callback" in callback
        and any((dep.get("id"), dep.get("property")) in wanted for dep in callback["inputs"] + callback["state"])
    }


def install_callback_guard(app: Dash) -> None:
    """Check every callback body before Dash runs it, and turn any failure of the dispatch into a 400."""
    server = app.server
    route = f"{app.config.routes_pathname_prefix}{CALLBACK_ROUTE}"
    endpoint = next(rule.endpoint for rule in server.url_map.iter_rules() if rule.rule == route)

    @server.before_request
    def _check_callback_body() -> flask.Response | None:
        if flask.request.endpoint != endpoint:
            return None
        try:
            body = json.loads(flask.request.get_data(cache=True) or b"null")
        except (ValueError, RecursionError) as exc:
            log.warning("callback request refused: not JSON (%s)", short(exc, 120))
            return _refuse(400, MALFORMED)
        problem = body_problem(body, app.callback_map)
        if problem:
            log.warning("callback request refused: %s", problem)
            return _refuse(400, MALFORMED)
        return None

    dispatch = server.view_functions[endpoint]

    @functools.wraps(dispatch)
    def guarded_dispatch(*args: Any, **kwargs: Any) -> Any:
        try:
            return dispatch(*args, **kwargs)
        except (PreventUpdate, HTTPException):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: one line in the log, a sentence to the client
            log.warning("callback request failed in Dash: %s", _describe(exc))
            return _refuse(400, MALFORMED)

    server.view_functions[endpoint] = guarded_dispatch


def public_message(exc: RecommenderError, fallback: str) -> str:
    """The sentence a shopper may see for `exc`: its own, unless it names a file or folder of the server or
    is a fault of the server's own (`ServerFault`: the vote database's name and its driver's words).

    Messages written for the command line name files (the feedback database, the index); a shopper
    gets `fallback` instead, and the log keeps the original.
    """
    message = str(exc)
    if isinstance(exc, ServerFault) or _ABSOLUTE_PATH.search(message):
        log.warning("%s (shown as: %s)", short(message), fallback)
        return fallback
    return message
