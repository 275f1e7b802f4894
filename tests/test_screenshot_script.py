"""scripts/screenshot.py walks a served app in headless Chromium without voting in its database unless told to."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest

from recommender.settings import Settings
from recommender.ui import create_app
from recommender.build import build_index
from recommender.catalog import load_catalog
from recommender.engine import Recommender
from recommender.index import Index
from tests.index_fakes import FakeExtractor
from tests.ui_fakes import served

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is absent")


def _script():
    spec = importlib.util.spec_from_file_location("screenshot", REPO / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _votes(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


def test_screenshots_cast_no_vote_unless_asked(tmp_path: Path, demo_catalog_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    index = tmp_path / "index"
    build_index(load_catalog(demo_catalog_dir), index, FakeExtractor(), progress=False)
    db = tmp_path / "votes.sqlite3"
    settings = Settings.from_env(index=index, feedback_db=db, thumbnail_dir=tmp_path / "thumbs",
                                 upload_dir=tmp_path / "uploads")
    script = _script()
    monkeypatch.setattr(script, "SIZES", {"desktop": (1280, 900)})  # one width is enough here
    photo = sorted((demo_catalog_dir / "images").iterdir())[0]
    with served(create_app(settings, engine=Recommender(Index.load(index), FakeExtractor()))) as url:
        assert script.main([url, "--image", str(photo), "--out", str(tmp_path / "shots"), "--words", "dress"]) == 0
        assert _votes(db) == 0 and not (tmp_path / "shots" / "desktop-refined.png").exists()
        assert "desktop-refined: left out" in capsys.readouterr().out
        assert (tmp_path / "shots" / "desktop-feedback.png").exists()
        assert script.main([url, "--image", str(photo), "--out", str(tmp_path / "voted"), "--words", "dress",
                            "--cast-votes"]) == 0
        assert _votes(db) == 2 and (tmp_path / "voted" / "desktop-refined.png").exists()


def test_screenshots_of_a_photo_of_a_person_in_a_catalogue_of_fewer_than_30(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The photo of a person opens on its surest garment ("Looks like the tshirts in your photo"), and "Show more"
    stops when the 25 products are all shown: the script waits for neither a fixed title nor 30 results."""
    from recommender.demo import write_demo_catalog
    from recommender.looks import Garment
    import recommender.ui.garments as garments

    catalog_dir = tmp_path / "shop"
    write_demo_catalog(catalog_dir, n=25, seed=0)
    index = tmp_path / "index"
    build_index(load_catalog(catalog_dir), index, FakeExtractor(), progress=False)
    engine = Recommender(Index.load(index), FakeExtractor())
    kinds = sorted(engine.index.attribute_values(engine.index.roles.category))[:2]

    def two_garments(engine: Recommender, picture):  # what a trained head finds on a photo of a person
        found = [Garment((0.0, 0.0, 1.0, 0.5), kinds[0], 0.9), Garment((0.0, 0.5, 1.0, 1.0), kinds[1], 0.8)]
        width, height = picture.size
        return found, [engine.embed_image(picture.crop(g.pixels((width, height)))) for g in found]

    monkeypatch.setattr(garments, "finds_garments", lambda engine: True)
    monkeypatch.setattr(garments, "find_garments", two_garments)
    settings = Settings.from_env(index=index, feedback_db=tmp_path / "votes.sqlite3", thumbnail_dir=tmp_path / "thumbs",
                                 upload_dir=tmp_path / "uploads")
    script = _script()
    monkeypatch.setattr(script, "SIZES", {"desktop": (1280, 900)})
    monkeypatch.setattr(script, "WAIT_S", 30)
    seen, photo_results = [], script.photo_results
    monkeypatch.setattr(script, "photo_results", lambda title: seen.append(title) or photo_results(title))
    photo = sorted((catalog_dir / "images").iterdir())[0]
    with served(create_app(settings, engine=engine)) as url:
        assert script.main([url, "--image", str(photo), "--out", str(tmp_path / "shots"), "--words", "men"]) == 0
    assert f"Looks like the {kinds[0].lower()} in your photo" in seen  # the garment chips' title, awaited
    assert {p.name for p in (tmp_path / "shots").iterdir()} >= {"desktop-results.png", "desktop-shown-more.png",
                                                                 "desktop-words.png", "desktop-feedback.png"}
    assert not photo_results("Looks like the framed part of your photo") and photo_results("Looks like your photo")
