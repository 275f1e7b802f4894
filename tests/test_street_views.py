"""Street-like views of catalogue pictures, their catalogue, and their use in training and evaluation."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.catalog import load_catalog
from recommender.cli import main
from recommender.manifest import Holdout
from recommender.street_views import OUTPUT_SIDE, ViewSettings, foreground_mask, street_view
from recommender.view_catalog import SOURCE, ViewSelection, select_products, write_views


def _shot(colour: tuple[int, int, int] = (200, 30, 30)) -> Image.Image:
    """A catalogue shot: a garment in the middle of a plain light backdrop."""
    pixels = np.full((80, 60, 3), 245, np.uint8)
    pixels[20:60, 15:45] = colour
    return Image.fromarray(pixels)


def test_the_mask_finds_the_garment_on_a_plain_backdrop_and_keeps_a_busy_picture_whole() -> None:
    mask = foreground_mask(np.asarray(_shot()))
    assert mask[40, 30] > 0.9 and mask[5, 5] < 0.1
    busy = np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    assert foreground_mask(busy).min() == 1.0


def test_a_view_changes_the_scene_around_the_garment_and_is_reproducible() -> None:
    shot = _shot()
    first = street_view(shot, np.random.default_rng(3))
    again = street_view(shot, np.random.default_rng(3))
    other = street_view(shot, np.random.default_rng(4))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))
    assert max(first.size) <= OUTPUT_SIDE * 1.7 and first.mode == "RGB"
    pixels = np.asarray(first, np.float32)
    backdrop_share = (np.linalg.norm(pixels - 245, axis=2) < 12).mean()
    assert backdrop_share < 0.2  # the plain backdrop is gone: a scene is behind the garment
    reds = (pixels[..., 0] > 100) & (pixels[..., 1] < 110) & (pixels[..., 2] < 110)
    assert reds.mean() > 0.03  # the garment is still there


def test_the_aspect_setting_changes_the_garments_shape_and_none_leaves_views_as_they_were() -> None:
    """The demo's kids' dresses are short and wide, shoppers' adults' dresses long: a view may change a garment's
    shape. Off (the default, the Kaggle views) the same seed makes the very same view as before the setting."""
    plain = ViewSettings(min_visible=1.0, margin=0.1, occlusion=0.0, blur=0.0, low_resolution=0.0, mirror=0.0)

    def shape(settings: ViewSettings, seed: int) -> float:  # the frame holds the garment whole, with little margin
        view = street_view(_shot(), np.random.default_rng(seed), settings=settings)
        return abs(float(np.log(view.width / view.height / 0.75)))  # the shot is 60 x 80 px

    assert np.array_equal(np.asarray(street_view(_shot(), np.random.default_rng(5))),
                          np.asarray(street_view(_shot(), np.random.default_rng(5), settings=ViewSettings(aspect=0.0))))
    assert max(shape(plain, seed) for seed in range(8)) < 0.2  # margins of up to 10 % on each side
    assert max(shape(replace(plain, aspect=0.6), seed) for seed in range(8)) > 0.3


def _catalogue(root: Path, n: int = 12) -> Path:
    (root / "images").mkdir(parents=True)
    rows = ["id,image,category,colour"]
    for i in range(n):
        _shot((200, 30, 30) if i % 2 else (30, 30, 200)).save(root / "images" / f"p{i}.png")
        rows.append(f"p{i},images/p{i}.png,{'Skirt' if i % 2 else 'Shirt'},{'Red' if i % 2 else 'Blue'}")
    (root / "catalog.csv").write_text("\n".join(rows) + "\n")
    return root


def test_views_are_a_catalogue_with_their_products_labels_and_resume(tmp_path: Path) -> None:
    catalog = load_catalog(_catalogue(tmp_path / "shop"))
    held = ViewSelection("held-out", Holdout(0.5, 0))
    chosen = select_products(catalog, held)
    assert chosen and all(Holdout(0.5, 0).contains(p.id) for p in chosen)
    tune, report = (select_products(catalog, ViewSelection("held-out", Holdout(0.5, 0), split)) for split in ("tune", "report"))
    assert {p.id for p in tune} | {p.id for p in report} == {p.id for p in chosen} and not {p.id for p in tune} & {p.id for p in report}
    skirts = select_products(catalog, ViewSelection(where={"category": ["Skirt"]}))
    assert {p.attributes["category"] for p in skirts} == {"Skirt"}

    out = tmp_path / "views"
    assert write_views(catalog, skirts, out, per_product=2, seed=1) == 2 * len(skirts)
    views = load_catalog(out)
    assert len(views) == 2 * len(skirts)
    by_id = {p.id: p for p in catalog.products}
    for view in views.products:
        assert view.attributes["category"] == by_id[view.attributes[SOURCE]].attributes["category"]
    first = (out / "images" / f"{skirts[0].id}~0.jpg").read_bytes()
    (out / "images" / f"{skirts[0].id}~1.jpg").unlink()  # an interrupted run: the rerun makes only what is missing
    assert write_views(catalog, skirts, out, per_product=2, seed=1) == 2 * len(skirts)
    assert (out / "images" / f"{skirts[0].id}~0.jpg").read_bytes() == first
    assert (out / "images" / f"{skirts[0].id}~1.jpg").exists() and not list(out.glob("images/*.part"))


def test_the_views_command_says_when_nothing_matches(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shop = _catalogue(tmp_path / "shop")
    assert main(["views", "--catalog", str(shop), "--out", str(tmp_path / "v"), "--where", "category=Boots",
                 "--no-progress"]) == 2
    assert "No product" in capsys.readouterr().err
    assert main(["views", "--catalog", str(shop), "--out", str(tmp_path / "v"), "--products", "training",
                 "--holdout", "0.3", "--workers", "1", "--no-progress"]) == 0
    with open(tmp_path / "v" / "catalog.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and not any(Holdout(0.3, 0).contains(r[SOURCE]) for r in rows)


def test_views_are_named_in_a_label_maps_query_terms_the_narrowest_first(tmp_path: Path) -> None:
    from recommender.label_map import read_label_map

    label_map = tmp_path / "map.csv"
    label_map.write_text("kind,category\nlongsleeve,Shirt\nlongsleeve,Skirt\nshirt,Shirt\n")
    catalog = load_catalog(_catalogue(tmp_path / "shop", n=4))
    out = tmp_path / "views"
    write_views(catalog, catalog.products, out, label_map=read_label_map(label_map))
    kinds = {p.attributes["category"]: p.attributes["kind"] for p in load_catalog(out).products}
    assert kinds == {"Shirt": "shirt", "Skirt": "longsleeve"}
