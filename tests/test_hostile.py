"""The hostile corpus replayed against the production configuration (tests/hostile_kit.py): gunicorn with
gunicorn.conf.py on a free loopback port, over an index with a tiny TensorFlow Lite model.

Forged votes, type confusion on every callback, null and deep JSON, bodies too large for their
route, pixel bombs and path traversal: each gets an answer that is not an HTTP 500, and after every
test the server's log holds no traceback, no 5xx answer and no killed worker. What hits the server
rather than the page (slow clients, connections, its database, the API's odd requests) is in
tests/test_hostile_server.py.

The load scenarios of the README (16 shoppers for 60 s; a shopper among slow clients and pixel
bombers; a shopper among 50 clients trickling their headers) run `scripts/loadtest.py` itself and
take minutes: they run only with RECOMMENDER_HOSTILE_FULL=1.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from recommender.settings import PROJECT_ROOT
from bench.traffic.dash_client import DashPage, component_key
from bench.traffic.server import ProductionServer
from bench.traffic.shopper import UPLOAD, Shopper, Tally, bomb_png
from recommender.ui import ids
from recommender.ui.guard import MALFORMED
from tests.hostile_kit import (  # noqa: F401 (fixtures)
    CALLBACK,
    clean_log,
    data_url,
    hostile_index,
    open_page,
    photo_bytes,
    searched,
    server,
    vote_on,
    votes_of,
)

FULL = os.environ.get("RECOMMENDER_HOSTILE_FULL") == "1"


def test_votes_count_only_on_what_the_server_showed(server: ProductionServer, hostile_index: Path) -> None:
    page, states = searched(server)
    before = votes_of(server, hostile_index)["votes"]
    shown = states[3]
    stored, message = vote_on(page, shown["id"], {"vote": 0, "rank": shown["rank"], "distance": shown["distance"]})
    assert stored["vote"] == 1 and message is None
    others = [p["id"] for p in _products(hostile_index) if p["id"] not in {s["id"] for s in states}]
    forgeries = [
        (others[0], {"vote": 0, "rank": 1, "distance": 0.0}),  # never shown
        (states[0]["id"], {"vote": 0, "rank": 4_600_000_000_000_000_000, "distance": states[0]["distance"]}),
        (states[0]["id"], {"vote": 0, "rank": 10**30, "distance": 1e308}),
        (states[1]["id"], {"vote": 0, "rank": states[1]["rank"], "distance": states[1]["distance"] + 5}),
        (states[2]["id"], {"vote": 0, "rank": states[2]["rank"] + 1, "distance": states[2]["distance"]}),
    ]
    for item, state in forgeries:
        stored, message = vote_on(page, item, state)
        assert stored is None and message.startswith("Your vote was not saved: "), (state, message)
    # A cookie naming another session id, without the server's signature, is no session at all.
    _payload, stamp, signature = page.http.cookies["session"].split(".")
    other = base64.urlsafe_b64encode(json.dumps({"sid": "0" * 32}).encode()).decode().rstrip("=")
    page.http.cookies.clear()
    page.http.cookies.set("session", f"{other}.{stamp}.{signature}")
    stored, message = vote_on(page, states[5]["id"], {"vote": 0, "rank": states[5]["rank"],
                                                    "distance": states[5]["distance"]})
    assert stored is None and "not shown to you" in message
    summary = votes_of(server, hostile_index)
    assert summary["votes"] == before + 1 and summary["ignored"] == 0


def test_simulated_shoppers_use_the_whole_page(server: ProductionServer, hostile_index: Path) -> None:
    """The load test's shoppers do what a shopper does, through the page's own callbacks and URL, and all of it
    works: upload, filter, vote, more like this, more like the ones liked, Back, and the JSON API."""
    tally = Tally()
    votes_before = votes_of(server, hostile_index)["votes"]
    shopper = Shopper(server.base, [photo_bytes(), photo_bytes((40, 40, 180)), photo_bytes((30, 160, 60), "PNG")], tally, seed=3,
                      api_every=2)
    wanted = {"an upload", "a filter", "a vote", "more like this", "a refinement", "going Back",
              "the API's search", "the API's similar"}
    for _ in range(12):
        shopper.visit()
        if wanted <= tally.actions.keys():
            break
    assert tally.errors == [] and wanted <= tally.actions.keys(), (tally.errors[:3], tally.actions)
    assert len(tally.upload_to_results) == tally.actions["an upload"] == shopper.visits
    assert tally.votes_refused == 0 and votes_of(server, hostile_index)["votes"] - votes_before == tally.votes_sent


def test_the_client_runs_what_the_browser_runs(server: ProductionServer) -> None:
    """`DashPage` follows the renderer's rules (recorded from Chromium on this page): a callback writing the
    URL it reads runs once, new components start the callbacks whose inputs they are, and ALL inputs list
    only the components on the page."""
    page = DashPage(server.base, requests.Session())
    page.open("/")
    ran = [e.output for e in page.exchanges]
    assert len(ran) == len(set(ran)) and any("results-area.children" in o for o in ran)
    page.exchanges.clear()
    page.set(*UPLOAD, {"filename": "photo.jpg", "contents": data_url(photo_bytes())})
    ran = [e.output for e in page.exchanges]
    assert len(ran) == len(set(ran))  # the upload, then each callback reading the URL, once
    assert sum("upload-alert" in o or "query-panel" in o or "results-area" in o or "filter-colour.value" in o
               for o in ran) == 4
    assert page.url["hash"].startswith("#s=upload:") and len(page.find(ids.VOTE_STATE)) == 10
    first = {i["id"] for i in page.find(ids.MORE)}
    page.set(ids.product(ids.MORE, sorted(first)[0]), "n_clicks", 1)
    assert page.url["hash"].count("&s=item:") == 1 and len(page.find(ids.MORE)) == 10  # the old cards are gone
    assert [c["index"] for c in page.find(ids.CRUMB)] == [0]  # back to the photo (the product is where it is)


def _products(index: Path) -> list[dict]:
    return [json.loads(line) for line in (index / "products.jsonl").read_text().splitlines()]


def _post_callback(server: ProductionServer, body: object, raw: bytes | None = None) -> requests.Response:
    data = raw if raw is not None else json.dumps(body).encode()
    return requests.post(f"{server.base}{CALLBACK}", data=data, headers={"Content-Type": "application/json"},
                         timeout=30)


URL = (ids.URL, "hash")  # the search, as the browser's address bar reports it
CARD_STATE = ("the first result's", "data")  # its vote-state store, which the refine button's callback reads
SELECTION = (ids.region(ids.REGION_GRAPH), "selectedData")  # a box dragged on the query's picture
TYPE_CONFUSION = [
    ("upload payload a list", UPLOAD, [1, 2]),
    ("contents not a string", UPLOAD, {"filename": "x", "contents": ["data:,"]}),
    ("contents a number", UPLOAD, {"filename": "x", "contents": 12}),
    ("contents without base64", UPLOAD, {"filename": "x", "contents": "data:image/jpeg;base64,@@@"}),
    ("size a string", UPLOAD, {"filename": "x", "size": "1e999"}),
    ("size negative", UPLOAD, {"filename": "x", "size": -5}),
    ("filename a dict", UPLOAD, {"filename": {"a": 1}, "size": 5}),
    ("hash a number", URL, 12),
    ("hash a list", URL, ["#s=item:1001"]),
    ("hash a dict", URL, {"s": "item:1001"}),
    ("hash of 60,000 characters", URL, "#s=item:" + "9" * 60_000),
    ("hash longer than is read", URL, "#text=" + "a" * 70_000),
    ("hash of 5,000 fields", URL, "#" + "&".join(["s=item:1001"] * 5_000)),
    ("hash asking a unicode digit of results", URL, "#s=item:1001&n=²"),
    ("hash asking a 5,000-digit number of results", URL, "#s=item:1001&n=" + "9" * 5_000),
    ("hash of broken steps", URL, "#s=liked:+a&s=nope:1&s=upload:../../etc/passwd&s=item:@0,0,1,1"
                                  "&s=item:1001@nan,inf,0,1&s=liked:" + ",".join(f"+{i}" for i in range(500))
                                  + "&s=item:1001@0,0,0.01,0.01"),
    ("hash of a photo never uploaded", URL, "#s=upload:" + "0" * 64),
    ("hash of an unknown product and filter", URL, "#s=item:nope&colour=Nope&gender=" + "x" * 300 + "&auto=colour"),
    ("hash of broken escapes", URL, "#s=item:%00%ff&colour=%E2%28%A1&text=%&n=%31%30"),
    ("filters a number", ("filter-colour", "value"), 42),
    ("filters a dict", ("filter-gender", "value"), {"a": "b"}),
    ("filters of lists", ("filter-category", "value"), [["Tshirts"]]),
    ("filters of nulls and numbers", ("filter-colour", "value"), [None, 1, 2.5, True, {"a": 1}]),
    ("filters of 10,000 values", ("filter-colour", "value"), [f"c{i}" for i in range(10_000)]),
    ("filter value of 100,000 characters", ("filter-colour", "value"), ["x" * 100_000]),
    ("text a list", (ids.TEXT, "value"), ["floral"]),
    ("text a dict", (ids.TEXT, "value"), {"a": 1}),
    ("text of 100,000 characters", (ids.TEXT, "value"), "floral " * 15_000),
    ("selection a string", SELECTION, "box"),
    ("selection a list", SELECTION, [0, 1]),
    ("selection of words", SELECTION, {"range": {"x": ["a", "b"], "y": [0, 1]}}),
    ("selection of nested lists", SELECTION, {"range": {"x": [[0], [1]], "y": [0, 1]}}),
    ("selection of huge numbers", SELECTION, {"range": {"x": [10**400, 0], "y": [0, 1]}}),
    ("selection of 1e308 and NaN", SELECTION,
     {"range": {"x": [1e308, -1e308], "y": [float("nan"), float("inf")]}}),
    ("card states a list", CARD_STATE, [1, 2]),
    ("card states a string", CARD_STATE, "liked"),
    ("card states of the wrong types", CARD_STATE, {"vote": [1], "rank": "first", "distance": None}),
    ("show more clicked a list", (ids.SHOW_MORE, "n_clicks"), [1]),
    ("refine clicked a dict", (ids.REFINE, "n_clicks"), {"a": 1}),
]


def _guard_lines(server: ProductionServer) -> int:
    """Callbacks that raised on what a client sent (the guard's last resort answered for the page's own checks)."""
    return server.log_text().count("failed on its input")


@pytest.mark.parametrize("case, target, value", TYPE_CONFUSION, ids=[c[0] for c in TYPE_CONFUSION])
def test_wrong_input_types_get_an_answer(server: ProductionServer, case: str, target: tuple, value: object) -> None:
    """A tampered browser sends a value of the wrong type, size or shape: every callback it starts answers, the
    page's own checks handle it (no callback fails into the guard), and a forged address still draws a page."""
    page, states = searched(server)
    if target == CARD_STATE:
        target = (ids.product(ids.VOTE_STATE, states[0]["id"]), "data")
    sent, failed_before = len(page.exchanges), _guard_lines(server)
    answers = page.set(*target, value)  # raises CallbackError on any status but 200 and 204
    assert len(page.exchanges) > sent  # the value reached the server's callbacks
    assert _guard_lines(server) == failed_before, server.log_tail(3)
    text = json.dumps(answers)
    assert "-0 MB" not in text and "Traceback" not in text
    if case == "size negative":
        assert "The browser reported an impossible file size" in text
    if target == URL:  # a hand-edited or forged link gives a smaller search, never an error
        assert any(ids.RESULTS_AREA in answer for answer in answers)


def test_a_link_with_too_many_fields_keeps_its_first_ones(server: ProductionServer, hostile_index: Path) -> None:
    product = _products(hostile_index)[0]["id"]
    page = DashPage(server.base, requests.Session())
    page.open(f"/#s=item:{product}&" + "&".join(["x=1"] * 5_000) + "&s=item:nope")
    assert len(page.find(ids.VOTE_STATE)) == 10  # the product's lookalikes, to vote on


def test_ids_and_card_states_of_the_wrong_type_get_an_answer(server: ProductionServer, hostile_index: Path) -> None:
    page, states = searched(server)
    vote = next(c for c in page.callbacks if '"vote-up"' in c["inputs"][0]["id"])
    navigate = next(c for c in page.callbacks if '"more"' in c["inputs"][0]["id"])
    chip = next(c for c in page.callbacks if '"tag-chip"' in c["inputs"][0]["id"])
    item, fragment = states[0]["id"], page.url["hash"]
    url_state = [{"id": ids.URL, "property": "hash", "value": fragment}]

    def clicked(callback: dict, component_id: object) -> dict:
        """`callback` as if `component_id` (any id, forged) had been clicked among its ALL inputs."""
        inputs = [[{"id": component_id, "property": "n_clicks", "value": 1}]] + [[] for _ in callback["inputs"][1:]]
        return {"output": callback["output"], "outputs": [{"id": ids.URL, "property": "hash"}] + (
                    [{"id": ids.FOCUS, "property": "data"}] if ids.FOCUS in callback["output"] else []),
                "inputs": inputs, "changedPropIds": [component_key(component_id) + ".n_clicks"], "state": url_state}

    def voted(state: object, component: object = item) -> dict:
        outputs = [{"id": {"type": t, "id": component}, "property": p} for t, p in
                   ((ids.VOTE_STATE, "data"), (ids.VOTE_UP, "className"), (ids.VOTE_UP, "aria-pressed"),
                    (ids.VOTE_DOWN, "className"), (ids.VOTE_DOWN, "aria-pressed"), (ids.VOTE_MSG, "children"))]
        return {"output": vote["output"], "outputs": outputs,
                "inputs": [{"id": {"type": ids.VOTE_UP, "id": component}, "property": "n_clicks", "value": 1},
                           {"id": {"type": ids.VOTE_DOWN, "id": component}, "property": "n_clicks", "value": None}],
                "changedPropIds": [component_key({"type": ids.VOTE_UP, "id": component}) + ".n_clicks"],
                "state": [{"id": {"type": ids.VOTE_STATE, "id": component}, "property": "data", "value": state}]
                + url_state}

    refused_by_the_guard = [  # not a component id at all: refused before any callback runs
        clicked(navigate, {"type": "more", "id": ["x"]}),
        clicked(navigate, {"type": "crumb", "index": [0]}),
        clicked(chip, {"type": "tag-chip", "role": ["colour"], "value": "Black"}),
        voted({"rank": 1, "distance": 0.0}, component=None),
        {**voted({"rank": 1, "distance": 0.0}), "outputs": [{"id": ["a list"], "property": "data"}]},
        {**voted({"rank": 1, "distance": 0.0}), "outputs": "not a list"},
    ]
    answered = [  # ids of the right shape with values nobody showed, and card states of every wrong type
        clicked(navigate, {"type": "more", "id": 12}),
        clicked(navigate, {"type": "more", "id": "x" * 300}),
        clicked(navigate, {"type": "more", "id": True}),
        clicked(navigate, {"type": "crumb", "index": "0"}),
        clicked(navigate, {"type": "crumb", "index": 10**20}),
        clicked(navigate, {"type": "crumb", "index": -1}),
        clicked(chip, {"type": "tag-chip", "role": "colour", "value": 5}),
        clicked(chip, {"type": "tag-chip", "role": "nope", "value": "Black"}),
        *(voted(state) for state in ([1, 2], "x", {"rank": "first", "distance": "near"}, None, {"vote": "up"},
                                     {"rank": 1, "distance": float("nan")}, {"rank": True, "distance": "0"})),
        voted({"rank": 1, "distance": 0.0}, component=12),
        voted({"rank": 1, "distance": 0.0}, component="x" * 300),
    ]
    votes_before, failed_before = votes_of(server, hostile_index)["votes"], _guard_lines(server)
    for body in refused_by_the_guard:
        response = _post_callback(server, body)
        assert response.status_code == 400 and response.json() == {"error": MALFORMED}, body
    for body in answered:
        response = _post_callback(server, body)
        assert response.status_code in (200, 204), (body["changedPropIds"], response.status_code, response.text[:200])
        assert ids.URL not in response.text  # nothing forged moves the search
    assert _guard_lines(server) == failed_before, server.log_tail(3)
    assert votes_of(server, hostile_index)["votes"] == votes_before  # and no forged vote counts


RENDER = ("..crumbs-area.children...chips-area.children...results-area.children...results-status.children..."
          'results-key.data...{"part":["ALL"],"type":"results-part"}.children...'
          '{"n":["ALL"],"type":"results-page"}.children..')
DEEP_VALUE = json.dumps({"output": RENDER, "inputs": [{"id": ids.URL, "property": "hash", "value": "@"}]}).encode()


@pytest.mark.parametrize("raw, reason", [
    (b"null", "the body is not a JSON object"), (b"[]", "the body is not a JSON object"),
    (b"[1, 2]", "the body is not a JSON object"), (b'"text"', "the body is not a JSON object"),
    (b"{}", "output is not a text"), (b'{"output": 5}', "output is not a text"),
    (b'{"output": "nope.children", "inputs": []}', "output names no server callback"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (DEEP_VALUE.replace(b'"@"', b'{"a":' * 80 + b"1" + b"}" * 80), "the body nests deeper than 64 levels"),
    (b"\xff\xfe not JSON", "not JSON"),
    (json.dumps({"output": RENDER, "inputs": [{"id": ids.URL}], "changedPropIds": 1}).encode(),
     "inputs or state are not lists of component properties"),
    (json.dumps({"output": RENDER, "inputs": [{"id": ids.URL, "property": "hash", "value": ""}],
                 "state": [{"id": ids.RESULTS_KEY, "property": "data"}], "changedPropIds": 1})
     .encode(), "changedPropIds is not a list of texts"),
    (json.dumps({"output": RENDER, "inputs": [{"id": ids.URL, "property": "hash"}] * 2}).encode(),
     "inputs or state do not match the callback"),
], ids=["null", "empty list", "list", "string", "empty object", "output a number", "unknown output", "deep list",
        "deep value", "not UTF-8", "malformed inputs", "changed ids a number", "one input too many"])
def test_null_deep_and_malformed_json(server: ProductionServer, raw: bytes, reason: str) -> None:
    response = _post_callback(server, None, raw)
    assert response.status_code == 400
    assert response.json() == {"error": MALFORMED}
    assert f"callback request refused: {reason}" in server.log_tail(2), server.log_tail(2)  # refused for that


def test_bodies_too_large_for_their_route_are_refused_and_not_logged(server: ProductionServer) -> None:
    log_before = server.findings().bytes
    junk = os.urandom(10 * 2**20)
    response = _post_callback(server, None, junk)
    assert response.status_code == 413 and "256 KB" in response.json()["error"]
    chunked = requests.post(f"{server.base}{CALLBACK}", data=iter([b"x" * 65536] * 16), timeout=30,
                            headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert requests.get(f"{server.base}/", data=b"x" * 300_000, timeout=30).status_code == 413
    api = requests.post(f"{server.base}/api/search", files={"photo": ("big.jpg", junk * 2, "image/jpeg")}, timeout=60)
    assert api.status_code == 413 and "10 MB limit" in api.json()["error"]
    # The upload callback takes a photo's worth: an upload of 5 MB of noise reaches the callback and its sentence.
    page = open_page(server)
    answers = page.set(*UPLOAD, {"filename": "noise.jpg", "contents": data_url(junk[: 5 * 2**20])})
    assert "not a photo we can use" in json.dumps(answers)
    assert server.findings().bytes - log_before < 20_000 and server.findings().longest_line < 1000


def test_pixel_bombs_and_phone_photos(server: ProductionServer) -> None:
    bomb = bomb_png(9400, mode="L")  # 88 megapixels in about 100 KB
    api = requests.post(f"{server.base}/api/search", files={"photo": ("bomb.png", bomb, "image/png")}, timeout=60)
    assert api.status_code == 400 and "more than 50 megapixels" in api.json()["error"]
    page = open_page(server)
    assert "more than 50 megapixels" in json.dumps(page.set(*UPLOAD, {"filename": "b.png",
                                                                      "contents": data_url(bomb, "image/png")}))
    heic = requests.post(f"{server.base}/api/search", files={"photo": ("iphone.heic", photo_bytes(fmt="HEIF"),
                                                                       "image/heic")}, timeout=60)
    assert heic.status_code == 200 and len(heic.json()["results"]) == 10


@pytest.mark.parametrize("path", [
    "/thumbnail/../../../../etc/passwd", "/thumbnail/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/thumbnail//etc/passwd",
    "/upload/../../app.py", "/upload/" + "0" * 64, "/_dash-component-suites/../../../etc/passwd",
    "/assets/../app.py", "/assets/%2e%2e/app.py", "/api/similar/..%2F..%2Fetc%2Fpasswd", "/static/../../etc/passwd",
])
def test_no_path_reaches_a_file_outside_the_app(server: ProductionServer, path: str) -> None:
    response = requests.get(f"{server.base}{path}", timeout=30)
    assert response.status_code in (400, 404) or (response.status_code == 200 and "root:" not in response.text
                                                   and "<html" in response.text.lower()[:200])
    assert "def main" not in response.text and "root:x:0" not in response.text


@pytest.mark.skipif(not FULL, reason="minutes of load; set RECOMMENDER_HOSTILE_FULL=1")
@pytest.mark.parametrize("arguments", [
    ["--users", "16", "--seconds", "60"],
    ["--users", "1", "--seconds", "60", "--slow-clients", "2", "--bombers", "4"],
    ["--users", "1", "--seconds", "60", "--slow-headers", "50"],
], ids=["16 shoppers", "shopper among attackers", "shopper among 50 header tricklers"])
def test_load_scenarios_of_the_readme(hostile_index: Path, arguments: list[str]) -> None:
    done = subprocess.run([sys.executable, "scripts/loadtest.py", "--index", str(hostile_index), *arguments],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["errors"] == 0, report["error_examples"]
    assert report["votes_stored"] == report["votes_sent"] > 0
    assert report["server_log"] == {"tracebacks": 0, "server_errors": 0, "workers_killed": 0, "examples": []}
