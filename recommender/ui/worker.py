"""gunicorn's threaded worker, hardened for clients that face it directly (`worker_class` in gunicorn.conf.py).

Two things the stock `gthread` worker does not do:
  * **request headers are read by the worker's event loop, not by a thread**: a connection is handed
    to a thread only once its headers have arrived whole, and one whose headers take longer than
    `HEADER_TIMEOUT_S` is answered 408 and closed. Without this, a client sending its headers a
    byte every few seconds holds one of the worker's threads for as long as it likes, and 16 such
    clients stop the shop (gunicorn has no header timeout for threaded workers);
  * **the app can close a connection** (`environ[CLOSE_CONNECTION]()`): the answer then says
    `Connection: close` and the connection is closed after it. The body limits refuse a body
    without reading it (`recommender.ui.limits`); announcing keep-alive and then dropping the
    connection, as gunicorn would after failing to discard the unread body, left the client's next
    request on it unanswered.
"""

from __future__ import annotations

import json
import selectors
import threading
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

__all__ = ["GatedThreadWorker", "CLOSE_CONNECTION", "HEADER_TIMEOUT_S"]

HEADER_TIMEOUT_S = 10.0  # a browser sends its headers in one packet; 10 s leaves room for a very bad network
CLOSE_CONNECTION = "lookalike.close_connection"  # WSGI environ key: call it to close the connection after the answer
_HEADER_END = (b"\r\n\r\n", b"\n\n")
_TOO_SLOW_BODY = json.dumps({"error": "The request arrived too slowly; please try again on a better connection."})
_TOO_SLOW = (f"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(_TOO_SLOW_BODY)}\r\n\r\n{_TOO_SLOW_BODY}").encode()
_RECV_BYTES = 64 * 1024


class GatedThreadWorker(ThreadWorker):
    """`gthread`, whose threads only ever wait on the app, never on a client's request headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gated: deque[Any] = deque()  # connections whose headers are arriving, oldest first
        self._request = threading.local()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def closable(environ: dict, start_response: Any) -> Any:
            request = getattr(self._request, "current", None)
            if request is not None:
                environ[CLOSE_CONNECTION] = request.force_close
            return app(environ, start_response)

        self.wsgi = closable

    def _header_limit(self) -> int:
        cfg = self.cfg
        return cfg.limit_request_line + (cfg.limit_request_fields + 2) * cfg.limit_request_field_size

    def enqueue_req(self, conn: Any) -> None:
        """Wait for the whole of the headers in the event loop, then hand the connection to a thread."""
        if self.cfg.is_ssl:  # TLS is decrypted by the thread: as gunicorn does
            super().enqueue_req(conn)
            return
        # What the parser already read ahead (a pipelined request, or a body drain's overshoot) has arrived.
        conn.header_bytes = bytearray(conn.parser.unreader.take_buffered() if conn.parser is not None else b"")
        conn.header_deadline = time.monotonic() + HEADER_TIMEOUT_S
        if self._whole(conn):
            self._hand_over(conn)
            return
        conn.sock.setblocking(False)
        self.gated.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_header_bytes, conn))

    def _on_header_bytes(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was whole
            self._ungate(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.header_bytes += data
        if self._whole(conn):
            self._ungate(conn)
            self._hand_over(conn)

    def _whole(self, conn: Any) -> bool:
        """The headers have arrived (or more bytes than headers may take: the parser will refuse them)."""
        return any(end in conn.header_bytes for end in _HEADER_END) or len(conn.header_bytes) > self._header_limit()

    def _hand_over(self, conn: Any) -> None:
        conn.early, conn.data_ready, conn.header_bytes = bytes(conn.header_bytes), True, None  # the parser reads early first
        super().enqueue_req(conn)

    def _ungate(self, conn: Any) -> None:
        self.gated.remove(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def murder_pending(self) -> None:
        """Also answer 408 to, and close, connections whose headers are still incomplete past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.gated and self.gated[0].header_deadline <= now:
            conn = self.gated[0]
            self._ungate(conn)
            self.log.warning("request headers too slow: %d bytes in %.0f s from %s; answered 408",
                             len(conn.header_bytes), HEADER_TIMEOUT_S, conn.client[0] if conn.client else "?")
            try:
                conn.sock.send(_TOO_SLOW)
            except OSError:
                pass
            self.nr_conns -= 1
            conn.close()

    def handle(self, conn: Any) -> Any:
        early = getattr(conn, "early", None)
        if early is not None:
            conn.early = None
            conn.init()
            conn.parser.unreader.unread(early)
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        self._request.current = req
        try:
            return super().handle_request(req, conn)
        finally:
            self._request.current = None
