"""Request bodies at the door: a size limit per route, and a pace every client must keep.

A WSGI middleware in front of the whole app reads each request body before any route sees it:
  * every route gets a small limit (`SMALL_BODY_BYTES`), except the two that carry a photo: the
    JSON API's `POST /api/search` and the Dash callback that receives the upload (Dash sends all
    callbacks to one URL, `_dash-update-component`; the callback is named by the `output` key that
    its renderer writes first in the body, so the first few KB decide the limit before the rest
    is read);
  * a body must keep arriving: after `GRACE_S` it must average `MIN_BODY_RATE` bytes per second
    (a watchdog thread cuts off the reading side of a connection that falls behind), so a client
    sending a byte every few seconds holds one server thread for seconds, never for minutes;
  * the body read here is handed on from memory, so the app never waits on the network.
Answers are JSON `{"error": "one sentence"}`: 413 for too large, 408 for too slow, 400 for a
malformed length; under gunicorn (`recommender.ui.worker`) the connection is then closed, saying so,
since the rest of the body was never read. The reverse proxy recommended in the README does the same at the edge; this
keeps the app safe when it faces clients directly.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from recommender.images import MIB
from recommender.ui.worker import CLOSE_CONNECTION

__all__ = ["BodyLimits", "SMALL_BODY_BYTES", "PEEK_BYTES", "callback_output", "upload_body_bytes"]

log = logging.getLogger(__name__)

SMALL_BODY_BYTES = 256 * 1024  # any callback's inputs and state, with room to spare; not a photo
PEEK_BYTES = 4096  # enough to read a callback's `output` key
GRACE_S = 10.0
MIN_BODY_RATE = 8 * 1024  # bytes per second: slower than any phone network that can upload a photo
WATCH_EVERY_S = 1.0
READ_BYTES = 64 * 1024
ENVELOPE_BYTES = 64 * 1024  # the JSON or multipart around a photo
_OUTPUT_KEY = re.compile(rb'\s*\{\s*"output"\s*:\s*("(?:[^"\\]|\\.)*")')

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict, StartResponse], Iterable[bytes]]


def upload_body_bytes(max_upload_bytes: int, *, base64: bool) -> int:
    """The largest body that can carry a photo of `max_upload_bytes` (a base64 data URL adds a third)."""
    photo = -(-max_upload_bytes * 4 // 3) if base64 else max_upload_bytes
    return photo + ENVELOPE_BYTES


class _Refused(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyLimits:
    """WSGI middleware: read each body within its route's limit and the minimum pace, or answer at once.

    `upload_outputs()` names the Dash callbacks that receive a photo (by their output key);
    `callback_path` and `api_upload_path` are the app's URLs of Dash's callbacks and the API search.
    """

    def __init__(self, app: WsgiApp, *, callback_path: str, api_upload_path: str, upload_outputs: Callable[[], set[str]],
                 max_upload_bytes: int, small_bytes: int = SMALL_BODY_BYTES) -> None:
        self.app = app
        self.callback_path = callback_path
        self.api_upload_path = api_upload_path
        self.upload_outputs = upload_outputs
        self.max_upload_bytes = max_upload_bytes
        self.small_bytes = small_bytes

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        try:
            body = self._read_body(environ)
        except _Refused as refused:
            close = environ.get(CLOSE_CONNECTION)  # the rest of the body is unread: this connection is done
            if close is not None:
                close()
            return _answer(start_response, refused.status, str(refused))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is now whole, with a length
        return self.app(environ, start_response)

    def _limit(self, path: str, head: bytes) -> tuple[int, str]:
        """The body limit of this request and what to call it in the sentence."""
        if path == self.api_upload_path:
            return upload_body_bytes(self.max_upload_bytes, base64=False), "photo"
        if path == self.callback_path and callback_output(head) in self.upload_outputs():
            return upload_body_bytes(self.max_upload_bytes, base64=True), "photo"
        return self.small_bytes, "request"

    def _read_body(self, environ: dict) -> bytes:
        declared = _declared_length(environ)  # None: chunked, the length is learnt at the end
        if declared == 0:
            return b""
        sock = environ.get("gunicorn.socket")
        pace = _Pace(sock if isinstance(sock, socket.socket) else None)
        try:
            with _WATCHDOG.watching(pace):
                stream = environ["wsgi.input"]
                head = _read(stream, PEEK_BYTES if declared is None else min(PEEK_BYTES, declared), pace)
                limit, what = self._limit(environ.get("PATH_INFO", ""), head)
                if declared is not None and declared > limit:
                    raise _too_large(what, limit, self.max_upload_bytes)
                left = limit + 1 - len(head) if declared is None else declared - len(head)
                body = head + _read(stream, left, pace)
        except OSError as exc:  # the client went away mid-body, or the watchdog cut it off
            if pace.cut_off:
                raise _too_slow(pace) from None
            raise _Refused("400 Bad Request", "The request did not arrive complete; please try again.") from exc
        if pace.cut_off:
            raise _too_slow(pace)
        if len(body) > limit:
            raise _too_large(what, limit, self.max_upload_bytes)
        if declared is not None and len(body) < declared:
            raise _Refused("400 Bad Request", "The request did not arrive complete; please try again.")
        return body


class _Pace:
    """Bytes of one body received against time: after GRACE_S, at least MIN_BODY_RATE per second on average."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock
        self.started = time.monotonic()
        self.received = 0
        self.cut_off = False

    def behind(self) -> bool:
        late = time.monotonic() - self.started - GRACE_S
        return late > 0 and self.received < MIN_BODY_RATE * late

    def add(self, n: int) -> None:
        self.received += n
        if self.behind():
            raise _too_slow(self)

    def cut(self) -> None:
        """End the body here: the blocked read returns, the connection can still carry the answer."""
        self.cut_off = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass


class _Watchdog:
    """One thread per process that cuts off bodies falling behind the pace while their read is blocked.

    A server's read of a body waits until the size asked for has arrived, so a client sending a
    byte every few seconds would never let the reading thread check the pace itself.
    """

    def __init__(self) -> None:
        self._paces: set[_Pace] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, pace: _Pace) -> Iterator[None]:
        if pace.sock is None:  # not gunicorn: nothing to cut off (the development server, the test client)
            yield
            return
        with self._lock:
            self._paces.add(pace)
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="body-pace-watchdog", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._paces.discard(pace)

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_EVERY_S)
            with self._lock:
                late = [pace for pace in self._paces if not pace.cut_off and pace.behind()]
            for pace in late:
                pace.cut()


_WATCHDOG = _Watchdog()


def _read(stream: Any, most: int, pace: _Pace) -> bytes:
    """Up to `most` bytes of the body (fewer when it ends first), keeping the pace."""
    parts: list[bytes] = []
    got = 0
    while got < most and not pace.cut_off:
        chunk = stream.read(min(READ_BYTES, most - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
        pace.add(len(chunk))
    return b"".join(parts)


def _declared_length(environ: dict) -> int | None:
    text = environ.get("CONTENT_LENGTH") or ""
    if not text:
        return None if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() else 0
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise _Refused("400 Bad Request", "The request's length is not a number of bytes.")
    return int(text)


def callback_output(head: bytes) -> str | None:
    """The `output` key at the start of a Dash callback body (where Dash's renderer writes it), if any."""
    match = _OUTPUT_KEY.match(head)
    if not match:
        return None
    try:
        output = json.loads(match.group(1))
    except ValueError:
        return None
    return output if isinstance(output, str) else None


def _too_large(what: str, limit: int, max_upload_bytes: int) -> _Refused:
    if what == "photo":
        message = f"The request is larger than the {max_upload_bytes / MIB:g} MB limit for images."
    else:
        message = f"The request is larger than the {limit // 1024:,} KB this page ever sends."
    return _Refused("413 Request Entity Too Large", message)


def _too_slow(pace: _Pace) -> _Refused:
    log.warning("request body too slow: %d bytes in %.0f s; answered 408", pace.received,
                time.monotonic() - pace.started)
    return _Refused("408 Request Timeout", "The request arrived too slowly; please try again on a better connection.")


def _answer(start_response: StartResponse, status: str, message: str) -> list[bytes]:
    body = json.dumps({"error": message}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]
