"""Thumbnails: the disk cache and the `/thumbnail/<id>` route (by id only, never a path)."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

import recommender.atomic as atomic
import recommender.thumbnails as thumbnails
from recommender.catalog import Product
from recommender.settings import Settings
from recommender.thumbnails import ThumbnailCache
from recommender.ui import create_app
from tests.ui_fakes import build_tiny_index, tiny_engine


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_index(tmp_path_factory.mktemp("tiny"))


def _client(index_dir: Path, tmp_path: Path):
    settings = Settings.from_env(index=index_dir, feedback_db=tmp_path / "votes.sqlite3",
                                 thumbnail_dir=tmp_path / "thumbs", upload_dir=tmp_path / "uploads")
    return create_app(settings, engine=tiny_engine(index_dir)).server.test_client()


@pytest.fixture
def client(tiny_index: Path, tmp_path: Path):
    return _client(tiny_index, tmp_path)


def _product(tmp_path: Path, size: tuple[int, int] = (300, 600)) -> Product:
    image = tmp_path / "big.png"
    Image.new("RGBA", size, (200, 30, 30, 128)).save(image)
    return Product(id="42", image=image, attributes={})


def test_cache_makes_a_small_jpeg_once_then_reuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ThumbnailCache(tmp_path / "cache", height=160)
    product = _product(tmp_path)
    path = cache.get(product)
    with Image.open(path) as thumb:
        assert thumb.format == "JPEG" and thumb.mode == "RGB"
        assert thumb.size == (80, 160)  # aspect ratio kept
    assert path.name != "42.jpg" and path.is_relative_to(tmp_path / "cache")  # a hash, not the id

    def fail(*_args, **_kwargs):
        raise AssertionError("a cached thumbnail was made again")

    monkeypatch.setattr(thumbnails, "open_image", fail)
    assert cache.get(product) == path


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale_for_its_thumbnail(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import recommender.images as images

    image = tmp_path / "huge.jpg"
    Image.new("RGB", (6000, 4500), (20, 90, 200)).save(image, quality=80)
    decoded = []
    real = images._decoded_bytes
    monkeypatch.setattr(images, "_decoded_bytes", lambda picture: decoded.append(picture.size) or real(picture))
    path = ThumbnailCache(tmp_path / "cache", height=320).of_file(image)
    assert decoded == [(750, 563)]  # 1/8 of each side: about 1/64 of the full decode's memory
    with Image.open(path) as thumb:
        assert thumb.size[1] == 320 and abs(thumb.size[0] - 427) <= 1


def test_cache_key_follows_the_image_file(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "cache")
    product = _product(tmp_path)
    first = cache.get(product)
    Image.new("RGB", (50, 50), "blue").save(product.image)  # same id, new picture
    assert cache.get(product) != first


def test_failed_write_leaves_neither_thumbnail_nor_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ThumbnailCache(tmp_path / "cache")
    product = _product(tmp_path)

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.get(product)
    assert not cache.path_for(product.image).exists()
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
    monkeypatch.undo()
    assert cache.get(product).exists()


def test_an_uploaded_photo_is_served_small_by_its_reference_only(client) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (4000, 3000), "white").save(photo, format="JPEG")
    services = client.application.extensions["recommender"]
    with client.application.app_context():
        ref = services.add_upload(photo.getvalue())
    response = client.get(f"/upload/{ref}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.size == (427, 320)
    stored = services.uploads.photo_path(ref)
    for url in (f"/upload/{'0' * 64}", "/upload/../../etc/passwd", f"/upload/{ref}/../x", f"/upload/{stored}",
                f"/upload/{ref.upper()}", "/upload/"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("product_id", ["1001", "dress/blue-42", "café 7"])
def test_route_serves_a_cached_jpeg_by_id(client, product_id: str) -> None:
    response = client.get(f"/thumbnail/{quote(product_id, safe='')}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.cache_control.public and response.cache_control.max_age >= 3600
    Image.open(io.BytesIO(response.data)).verify()
    again = client.get(f"/thumbnail/{quote(product_id, safe='')}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "url",
    [
        "/thumbnail/9999",
        "/thumbnail/../../etc/passwd",
        "/thumbnail/..%2F..%2F..%2Fetc%2Fpasswd",
        "/thumbnail/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/thumbnail/%252e%252e%252fetc%252fpasswd",
        "/thumbnail//etc/passwd",
        "/thumbnail/%2Fetc%2Fpasswd",
        "/thumbnail/1001/../../../../etc/passwd",
        "/thumbnail/....//....//etc/passwd",
        "/thumbnail/..%5C..%5Cwindows%5Cwin.ini",
        "/thumbnail/1001%00.jpg",
    ],
)
def test_route_answers_404_to_anything_but_a_known_id(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data


def test_route_refuses_the_image_path_itself(client, tiny_index: Path) -> None:
    image = tiny_engine(tiny_index).index.product("1001").image
    assert client.get(f"/thumbnail/{image}").status_code == 404
    assert client.get(f"/thumbnail/{quote(str(image), safe='')}").status_code == 404


def test_missing_catalogue_image_is_a_404_not_an_error(tmp_path: Path) -> None:
    index_dir = build_tiny_index(tmp_path / "catalogue")
    tiny_engine(index_dir).index.product("1004").image.unlink()
    client = _client(index_dir, tmp_path)
    assert client.get("/thumbnail/1004").status_code == 404
    assert client.get("/thumbnail/1005").status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/_dash-component-suites/../../app.py", "/_dash-component-suites/dash/nope.js", "/_dash-component-suites/os/x.py"],
)
def test_probes_for_scripts_dash_does_not_serve_are_404_not_500(client, url: str) -> None:
    assert client.get(url).status_code == 404
