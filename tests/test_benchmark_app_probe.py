"""The app probe's photo query speaks the app's JSON search API: checked against a stand-in server on
loopback that parses the form with werkzeug, the parser the app's Flask server uses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
from werkzeug.formparser import parse_form_data

from bench.app_probe import SearchError, search_photo

# Every byte value, and the line breaks and dashes a multipart body is made of.
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\r\n--\r\n\r\n--x--\r\n" + b"\xff\xd9"
RESULTS = [
    {"rank": 1, "id": "15970", "distance": 0.0, "attributes": {"gender": "Women"}, "image": "/data/15970.jpg"},
    {"rank": 2, "id": "39386", "distance": 1.25, "attributes": {"gender": "Unisex"}, "image": "/data/39386.jpg"},
]


@dataclass
class SearchAPIStandIn:
    """Answers every POST with `answer` (status, content type, body) and keeps what it received."""

    base: str = ""
    answer: tuple[int, str, bytes] = (200, "application/json", json.dumps({"results": RESULTS}).encode())
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[SearchAPIStandIn]:
    stand_in = SearchAPIStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": self.headers["Content-Type"],
                       "CONTENT_LENGTH": str(len(body)), "wsgi.input": BytesIO(body)}
            _, form, files = parse_form_data(environ)
            stand_in.received.append({"path": self.path, "form": form, "files": files})
            status, content_type, answer = stand_in.answer
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stand_in.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_photo_k_and_repeated_filters_arrive_as_form_fields(api: SearchAPIStandIn) -> None:
    filters = ["gender=Women", "gender=Unisex", "baseColour=Navy Blue"]
    assert search_photo(api.base, PHOTO, k=3, filters=filters) == RESULTS
    [request] = api.received
    assert request["path"] == "/api/search"
    assert request["form"].getlist("k") == ["3"]
    assert request["form"].getlist("filter") == filters  # in order, a repeated key kept
    photo = request["files"]["photo"]
    assert (photo.filename, photo.mimetype) == ("query.jpg", "image/jpeg")
    assert photo.read() == PHOTO  # byte for byte


def test_defaults_are_ten_results_and_no_filter(api: SearchAPIStandIn) -> None:
    search_photo(api.base, PHOTO)
    [request] = api.received
    assert request["form"].getlist("k") == ["10"] and request["form"].getlist("filter") == []


NO_RESULTS = "the search API answered 200 without a JSON list of results"


@pytest.mark.parametrize(
    "answer, message",
    [
        ((400, "application/json", b'{"error": "The photo is not an image."}'),
         "the search API answered 400: The photo is not an image."),
        ((413, "application/json", b'{"error": "The photo is larger than 10 MB."}'),
         "the search API answered 413: The photo is larger than 10 MB."),
        ((404, "text/html", b"<!doctype html><title>404 Not Found</title>"),  # an app without the API
         "the search API answered 404: no JSON error message"),
        ((200, "application/json", b'{"error": "nothing"}'), NO_RESULTS),
        ((200, "text/html", b"<html>the search page</html>"), NO_RESULTS),
    ],
)
def test_an_answer_without_results_is_an_error_with_the_api_sentence(
    api: SearchAPIStandIn, answer: tuple[int, str, bytes], message: str
) -> None:
    api.answer = answer
    with pytest.raises(SearchError) as caught:
        search_photo(api.base, PHOTO)
    assert str(caught.value) == message
