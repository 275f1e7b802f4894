"""Who is shopping: a session id the server chose and signed, never one the browser makes up.

The id lives in Flask's session cookie, signed with the app's secret key (`itsdangerous`), so a
client can keep or drop it but cannot choose or forge one: votes and the record of what was shown
are keyed by it. The secret comes from `RECOMMENDER_SECRET_KEY`, or else from a file made once
beside the feedback database (mode 0600), created so that several gunicorn workers starting at
the same moment all end up with the same key.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from datetime import timedelta
from pathlib import Path

import flask

from recommender.atomic import TEMP_SUFFIX, fsync_dir
from recommender.errors import RecommenderError

__all__ = ["SECRET_FILE", "REMEMBER_FOR", "current_session_id", "remember_session", "new_session", "load_secret_key",
           "install_sessions"]

SECRET_FILE = "secret-key"
_KEY = "sid"
_SID = re.compile(r"[0-9a-f]{32}")
_SECRET = re.compile(r"[0-9a-f]{64}")
REMEMBER_FOR = timedelta(days=180)  # "remember me": the cookie outlives the browser for this long


def current_session_id() -> str:
    """This request's session id, from the signed cookie; a new one (sent back in the cookie) without it."""
    sid = flask.session.get(_KEY)
    if not isinstance(sid, str) or not _SID.fullmatch(sid):
        sid = secrets.token_hex(16)
        flask.session[_KEY] = sid
    return sid


def remember_session() -> str:
    """Keep this shopper's session id in a cookie that outlives the browser (REMEMBER_FOR); returns the id."""
    flask.session.permanent = True
    return current_session_id()


def new_session() -> str:
    """Give the browser a new session id, in a cookie that ends with the browser ("forget me")."""
    flask.session.permanent = False
    sid = secrets.token_hex(16)
    flask.session[_KEY] = sid
    return sid


def _read_secret(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    if not _SECRET.fullmatch(text):
        raise RecommenderError(f"The secret key file {path} is damaged; delete it (sessions start afresh) "
                               "or set RECOMMENDER_SECRET_KEY.")
    return text


def load_secret_key(folder: Path) -> str:
    """The app's secret key kept in `folder`, made on first use (0600, linked into place whole)."""
    path = Path(folder) / SECRET_FILE
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise RecommenderError(f"The secret key file {path} cannot be read: {exc}.") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{TEMP_SUFFIX}")
        try:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # never replaces: when another worker was first, its key wins
            except FileExistsError:
                pass
            fsync_dir(path.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return _read_secret(path)
    except OSError as exc:
        raise RecommenderError(f"The secret key file {path} cannot be made: {exc}; "
                               "set RECOMMENDER_SECRET_KEY instead.") from exc


def install_sessions(server: flask.Flask, secret_key: str, *, secure_cookie: bool) -> None:
    """Sign the session cookie with `secret_key`; every page load starts a session when it has none."""
    server.secret_key = secret_key
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                         SESSION_COOKIE_SECURE=secure_cookie, PERMANENT_SESSION_LIFETIME=REMEMBER_FOR)

    @server.before_request
    def _start_session() -> None:
        # Pages only: the callbacks that follow a page load then all carry the same cookie.
        if flask.request.method == "GET" and flask.request.accept_mimetypes.accept_html:
            current_session_id()
