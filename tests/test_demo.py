"""The synthetic demo catalogue: deterministic, Kaggle layout, varied, drawn in its labelled colours."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender.catalog import load_catalog
from recommender.colours import BASE_COLOURS
from recommender.commands import demo_catalog
from recommender.demo import DEMO_COLOURS, write_demo_catalog
from recommender.errors import CatalogError


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_catalogue(tmp_path: Path) -> None:
    a = _files(write_demo_catalog(tmp_path / "a", n=12, seed=0))
    b = _files(write_demo_catalog(tmp_path / "b", n=12, seed=0))
    c = _files(write_demo_catalog(tmp_path / "c", n=12, seed=1))
    assert len(a) == 12 + 2  # images, styles.csv, the marker
    assert a == b
    assert a.keys() == c.keys()
    assert a["styles.csv"] != c["styles.csv"]
    assert sum(a[k] != c[k] for k in a if k.endswith(".jpg")) == 12


def test_catalogue_loads_with_the_required_variety(demo_catalog_dir: Path) -> None:
    catalog = load_catalog(demo_catalog_dir)
    assert catalog.layout == "kaggle" and len(catalog) == 60 and catalog.skipped == []
    values = {key: {p.attributes[key] for p in catalog.products} for key in ("articleType", "baseColour", "gender")}
    assert len(values["articleType"]) >= 9
    assert len(values["baseColour"]) >= 10 and values["baseColour"] <= BASE_COLOURS.keys()
    assert values["gender"] == {"Men", "Women", "Unisex"}
    for p in catalog.products:
        assert set(p.attributes) == {"gender", "masterCategory", "subCategory", "articleType", "baseColour",
                                     "season", "year", "usage", "productDisplayName"}  # fmt: skip
        assert f"{p.attributes['gender']} {p.attributes['baseColour']}" in p.name


def test_styles_csv_is_written_like_the_original_kaggle_file(demo_catalog_dir: Path) -> None:
    lines = (demo_catalog_dir / "styles.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == [
        "id", "gender", "masterCategory", "subCategory", "articleType",
        "baseColour", "season", "year", "usage", "productDisplayName",
    ]  # fmt: skip
    assert len(lines) == 61
    assert all(line.count(",") == 9 and '"' not in line for line in lines)
    assert not (demo_catalog_dir / "styles.csv.tmp").exists()


def test_images_are_product_shots_in_the_labelled_colour(demo_catalog_dir: Path) -> None:
    palette = {c: np.array([int(BASE_COLOURS[c][i : i + 2], 16) for i in (1, 3, 5)]) for c in DEMO_COLOURS}
    checked = 0
    for p in load_catalog(demo_catalog_dir).products:
        with Image.open(p.image) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (120, 160)
            pixels = np.asarray(image).reshape(-1, 3).astype(int)
        background = pixels[0]
        assert background.min() >= 235  # a light, near-white studio background
        if p.attributes["baseColour"] == "White":
            continue  # white cloth differs from the background by its outline only
        garment = pixels[np.abs(pixels - background).sum(axis=1) > 40]
        assert len(garment) > 0.08 * len(pixels)  # a garment is drawn, not a blank
        if not any(word in p.name for word in ("Striped", "Checked", "Polka Dot")):
            median = np.median(garment, axis=0)
            nearest = min(palette, key=lambda c: np.linalg.norm(palette[c] - median))
            assert nearest == p.attributes["baseColour"], p.name
            checked += 1
    assert checked >= 10


def test_rewrite_is_safe_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    first = _files(write_demo_catalog(out, n=9, seed=4))
    (out / "styles.csv").unlink()  # as if interrupted before the last step
    assert _files(write_demo_catalog(out, n=9, seed=4)) == first

    foreign = tmp_path / "shop"
    foreign.mkdir()
    (foreign / "styles.csv").write_text("id,name\n1,precious\n")
    with pytest.raises(CatalogError, match="is not empty and holds no demo catalogue"):
        write_demo_catalog(foreign, n=3)
    assert (foreign / "styles.csv").read_text() == "id,name\n1,precious\n"
    assert sorted(p.name for p in foreign.iterdir()) == ["styles.csv"]

    with pytest.raises(CatalogError, match="at least one product"):
        write_demo_catalog(tmp_path / "none", n=0)


def test_command_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    demo_catalog.register(parser.add_subparsers())
    args = parser.parse_args(["demo-catalog", "--out", str(tmp_path / "d"), "--n", "10", "--seed", "2"])
    assert args.func(args) == 0
    assert f"Wrote 10 demo products to {tmp_path / 'd'}" in capsys.readouterr().out
    assert len(load_catalog(tmp_path / "d")) == 10
    with pytest.raises(SystemExit):
        parser.parse_args(["demo-catalog", "--n", "0"])
