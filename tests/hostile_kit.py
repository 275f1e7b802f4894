"""What the hostile tests share: the production configuration (gunicorn with gunicorn.conf.py on a free
loopback port, `bench.traffic.server`) over an index with a tiny TensorFlow Lite model, a check of
its log after every test, and a page driven as a browser drives it.

A test module uses them by importing the fixtures (`from tests.hostile_kit import clean_log, hostile_index,
server`): each module then runs its own server.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import requests
from PIL import Image

from recommender.backbones import load_extractor
from recommender.build import build_index
from recommender.catalog import load_catalog
from recommender.feedback import FeedbackStore
from recommender.manifest import read_manifest
from recommender.model_spec import ModelSpec
from bench.traffic.dash_client import DashPage, component_key
from bench.traffic.server import ProductionServer
from bench.traffic.shopper import UPLOAD
from recommender.ui import ids

__all__ = ["CALLBACK", "hostile_index", "server", "clean_log", "photo_bytes", "data_url", "open_page", "searched",
           "vote_on", "votes_of"]

CALLBACK = "/_dash-update-component"


@pytest.fixture(scope="module")
def hostile_index(tiny_tflite: dict, tmp_path_factory: pytest.TempPathFactory, demo_catalog_dir: Path) -> Path:
    """The demo catalogue embedded by a tiny TFLite model: the server's workers load it in a blink."""
    model = tiny_tflite["float"].path
    out = tmp_path_factory.mktemp("hostile-index")
    build_index(load_catalog(demo_catalog_dir), out, load_extractor(ModelSpec.parse(str(model))), progress=False)
    return out


@pytest.fixture(scope="module")
def server(hostile_index: Path, tmp_path_factory: pytest.TempPathFactory):
    with ProductionServer(tmp_path_factory.mktemp("hostile-server"), {"RECOMMENDER_INDEX": str(hostile_index)},
                          workers=2) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_log(request: pytest.FixtureRequest):
    """After each test that used the server: no traceback, no 5xx answer, no killed worker in its log."""
    yield
    if "server" in request.fixturenames:
        findings = request.getfixturevalue("server").findings()
        assert (findings.tracebacks, findings.server_errors, findings.workers_killed) == (0, 0, 0), findings.examples


def photo_bytes(colour=(180, 40, 40), fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 128), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def data_url(data: bytes, kind: str = "image/jpeg") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def open_page(server: ProductionServer) -> DashPage:
    page = DashPage(server.base, requests.Session())
    page.open("/")
    return page


def searched(server: ProductionServer) -> tuple[DashPage, list[dict]]:
    """A page with a photo searched: its vote states (id, rank, distance) as the server showed them."""
    page = open_page(server)
    page.set(*UPLOAD, {"filename": "photo.jpg", "contents": data_url(photo_bytes())})
    states = [{"id": i["id"], **page.value(i, "data")} for i in page.find("vote-state")]
    assert len(states) == 10
    return page, states


def vote_on(page: DashPage, item: str, state: object) -> tuple[object, str | None]:
    """Click thumbs up on `item` with the card state `state`, as a tampered browser would (on a card it made up,
    when `item` was not shown)."""
    for kind in (ids.VOTE_STATE, ids.VOTE_UP, ids.VOTE_DOWN, ids.VOTE_MSG):
        page.ids.setdefault(component_key(ids.product(kind, item)), ids.product(kind, item))
        page.components.setdefault(component_key(ids.product(kind, item)), {})
    page.components[component_key(ids.product(ids.VOTE_STATE, item))]["data"] = state
    answers = page.set({"type": "vote-up", "id": item}, "n_clicks", 1)
    props = {k: v for answer in answers for k, v in answer.items()}
    stored = props.get(component_key({"type": "vote-state", "id": item}), {}).get("data")
    message = props.get(component_key({"type": "vote-msg", "id": item}), {}).get("children")
    return stored, message


def votes_of(server: ProductionServer, index: Path) -> dict[str, object]:
    return FeedbackStore(server.workdir / "feedback.sqlite3").summary(read_manifest(index).catalog.identity)
