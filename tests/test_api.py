"""The JSON API (`POST /api/search`, `GET /api/similar/<id>`) through Flask's test client: answers and errors."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from recommender.engine import hit_record
from recommender.images import MIB
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.uploads import upload_ref
from tests.ui_fakes import build_tiny_index, tiny_engine

RECORD_KEYS = {"rank", "id", "match", "distance", "attributes", "image"}


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_index(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def app(tiny_index: Path, tmp_path: Path):
    settings = Settings.from_env(index=tiny_index, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads",
                                 max_upload_bytes=MIB)
    return create_app(settings, engine=tiny_engine(tiny_index))


@pytest.fixture
def client(app):
    return app.server.test_client()


def _jpeg(colour=(180, 40, 40), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _search(client, data: bytes, **fields):
    form = {"photo": (io.BytesIO(data), "photo.jpg"), **fields}
    return client.post("/api/search", data=form, content_type="multipart/form-data")


def test_search_answers_records_like_query_json(client, app) -> None:
    data = _jpeg()
    response = _search(client, data)
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == {"kind": "upload", "ref": upload_ref(data)}
    results = body["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5] and all(set(r) == RECORD_KEYS for r in results)
    for record in results:  # the image is its thumbnail's URL, which serves a JPEG
        assert record["image"] == f"/thumbnail/{record['id']}" or record["image"] == f"/thumbnail/{quote(record['id'])}"
        assert client.get(record["image"]).status_code == 200
    services = app.server.extensions["recommender"]
    with app.server.app_context():
        expected = services.engine.search(services.engine.stored_query(services.uploads.vector(upload_ref(data))), 10)
    assert [{k: v for k, v in r.items() if k != "image"} for r in results] == [hit_record(h) for h in expected]


def test_k_and_filters(client) -> None:
    assert len(_search(client, _jpeg(), k="2").get_json()["results"]) == 2
    either = _search(client, _jpeg(), filter=["baseColour=Black", "baseColour=Red"]).get_json()["results"]
    assert sorted(r["attributes"]["baseColour"] for r in either) == ["Black", "Black", "Red"]
    both = _search(client, _jpeg(), filter=["baseColour=Black", "gender=Men"]).get_json()
    assert both["results"] == [] and both["notes"] == [
        "note: no product has gender 'Men'; the values of gender are: Women."]


@pytest.mark.parametrize("fields, status, sentence", [
    ({"k": "0"}, 400, "k must be a whole number from 1 to 100, not 0."),
    ({"k": "ten"}, 400, "k must be a whole number from 1 to 100, not 'ten'."),
    ({"k": "101"}, 400, "k must be a whole number from 1 to 100, not 101."),
    ({"k": " 5"}, 400, "k must be a whole number from 1 to 100, not ' 5'."),
    ({"k": "5\n"}, 400, "k must be a whole number from 1 to 100, not '5\\n'."),
    ({"k": "+5"}, 400, "k must be a whole number from 1 to 100, not '+5'."),
    ({"k": "1_0"}, 400, "k must be a whole number from 1 to 100, not '1_0'."),
    ({"k": "\u0665"}, 400, "k must be a whole number from 1 to 100, not '\u0665'."),  # Arabic-Indic five
    ({"filter": "gender"}, 400, "Bad filter 'gender': write KEY=VALUE, e.g. gender=Women."),
    ({"filter": "fabric=silk"}, 400, "Unknown attribute 'fabric'"),
])
def test_bad_parameters_are_one_sentence(client, fields, status, sentence) -> None:
    response = _search(client, _jpeg(), **fields)
    assert response.status_code == status and sentence in response.get_json()["error"]


@pytest.mark.parametrize("data, sentence", [
    (b"%PDF-1.4 not a photo", "not a photo we can use"),
    (b"", "The file is empty (0 bytes)"),
    (_jpeg()[:200], "damaged or incomplete"),
])
def test_bad_photos_get_the_pages_sentences(client, data, sentence) -> None:
    response = _search(client, data)
    assert response.status_code == 400 and sentence in response.get_json()["error"]


def test_size_limits(client) -> None:
    response = _search(client, b"\xff" * (MIB + 1000))  # over the 1 MB limit, within the body's envelope
    assert response.status_code == 400
    assert response.get_json()["error"] == "The file is 1.1 MB, more than the 1 MB limit for images."
    response = _search(client, b"\0" * (5 * MIB))  # over the body cap: refused before it is read
    assert response.status_code == 413 and "larger than the 1 MB limit" in response.get_json()["error"]


def test_missing_photo(client) -> None:
    response = client.post("/api/search", data={"k": "3"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "field named 'photo'" in response.get_json()["error"]
    assert client.get("/api/search").status_code == 405 and "POST" in client.get("/api/search").get_json()["error"]
    assert client.get("/api/nothing").status_code == 404 and "no such API endpoint" in client.get("/api/x").get_json()["error"]


def test_too_many_parts_are_not_called_too_large(client) -> None:
    """A body far under the limit, with more form fields than Flask takes: a 413 that says what is wrong."""
    response = _search(client, _jpeg(), filter=["baseColour=Black"] * 1_000)
    assert response.status_code == 413
    assert response.get_json()["error"] == ("The request has more than 1,000 parts, or a field other than the photo "
                                            "over 500 KB; send one photo and fewer filters.")


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/api/search", "POST"), ("DELETE", "/api/search", "POST"), ("PATCH", "/api/search", "POST"),
    ("GET", "/api/search", "POST"), ("POST", "/api/similar/1001", "GET, HEAD"), ("PUT", "/api/similar/nope", "GET, HEAD"),
])
def test_a_wrong_method_is_a_405_in_json(client, method: str, path: str, allow: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405 and response.headers["Allow"] == allow
    assert response.get_json()["error"].endswith(".")


@pytest.mark.parametrize("path", ["/api/similar/1001%0D%0A", "/api/similar/%0A", "/api/nothing%0D%0Ahere"])
def test_ids_with_line_breaks_are_a_json_404(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and set(response.get_json()) == {"error"}


@pytest.mark.parametrize("product_id", ["1001", "dress/blue-42", "café 7"])
def test_similar_leaves_the_product_out(client, tiny_index: Path, product_id: str) -> None:
    response = client.get(f"/api/similar/{quote(product_id)}?k=3")
    assert response.status_code == 200
    body = response.get_json()
    assert body["query"] == {"kind": "item", "ref": product_id}
    assert len(body["results"]) == 3 and product_id not in [r["id"] for r in body["results"]]
    expected = tiny_engine(tiny_index).query_id(product_id, 3)
    assert [r["id"] for r in body["results"]] == [h.id for h in expected]


def test_similar_filters_and_unknown_ids(client) -> None:
    body = client.get("/api/similar/1001?filter=baseColour=Red&filter=baseColour=Cream").get_json()
    assert sorted(r["attributes"]["baseColour"] for r in body["results"]) == ["Cream", "Red"]
    response = client.get("/api/similar/nope")
    assert response.status_code == 404 and response.get_json() == {"error": "No product with id 'nope' in this catalogue."}
    assert client.get("/api/similar/1001?k=-1").status_code == 400


def test_a_full_disk_while_keeping_the_photo_is_a_sentence(client, monkeypatch) -> None:
    import errno

    import recommender.uploads as uploads

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads, "atomic_write", full)
    response = _search(client, _jpeg())
    assert response.status_code == 400
    assert response.get_json() == {"error": "Your photo cannot be kept on the server right now; please try again later."}


def test_look_answers_each_garment_with_its_box_in_the_upright_photo(client) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 64 x 48, shown turned a quarter: 48 x 64
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    plain = _search(client, data, k="3").get_json()
    body = _search(client, data, k="3", look="1").get_json()
    assert body["query"] == plain["query"] and body["notes"] == []
    # an index without a head: the photo is one garment, the whole picture, with the photo's own results
    [garment] = body["garments"]
    assert garment["box"] == [0, 0, 48, 64] and garment["results"] == plain["results"]
    assert garment["category"] == next(t["value"] for t in plain["tags"] if t["role"] == "category")
    response = _search(client, data, look="yes")
    assert response.status_code == 400
    assert response.get_json() == {"error": "look must be 1 (find each garment) or 0, not 'yes'."}


def _logged(app) -> list[tuple]:
    store = app.server.extensions["recommender"].feedback
    return store._query("SELECT kind, colour, best_item, best_alike FROM searches ORDER BY id")


def test_api_searches_are_logged_for_the_trends_from_the_results_already_found(client, app, monkeypatch) -> None:
    engine = app.server.extensions["recommender"].engine
    searches: list[int] = []
    search = engine.search
    monkeypatch.setattr(engine, "search", lambda query, k=10, selection=None: searches.append(k) or
                        search(query, k, selection))
    body = _search(client, _jpeg()).get_json()
    assert searches == [10]  # the log reuses the answer's first result: no second search
    tags = {t["role"]: t["value"] for t in body["tags"]}
    [(kind, colour, best, alike)] = _logged(app)
    assert (kind, colour, best) == (tags["category"], tags.get("colour", ""), body["results"][0]["id"])
    assert 0 <= alike <= 1
    # a filtered answer's first result need not be the catalogue's best: the log searches for that one
    searches.clear()
    filtered = _search(client, _jpeg(), filter="baseColour=Black").get_json()["results"]
    assert searches == [10, 1] and _logged(app)[-1][2] == body["results"][0]["id"] != filtered[0]["id"]
    _search(client, _jpeg(), look="1")
    assert len(_logged(app)) == 3  # shop the look logs the whole photo's kind
    assert all(row[0] == tags["category"] for row in _logged(app))
