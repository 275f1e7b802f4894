"""Catalogue loading: the three layouts, malformed input, clear errors, fingerprints."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from recommender.catalog import MAX_ID_CHARS, Catalog, CatalogError, Skipped, load_catalog
from tests.conftest import SHARED_CLOTHING, SHARED_FASHION, require

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName"


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 8), (200, 30, 30)).save(path)
    return path


def _kaggle(root: Path, text: str, image_ids: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "styles.csv").write_text(text, encoding="utf-8")
    (root / "images").mkdir(exist_ok=True)
    for pid in image_ids:
        _image(root / "images" / f"{pid}.jpg")
    return root


# The original Kaggle file: unquoted, commas inside productDisplayName, a BOM, odd rows.
UNQUOTED = "\ufeff" + "\n".join([
    HEADER,                                                                                    # line 1
    "1,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,Turtle Check Men Navy Blue Shirt",  # 2
    "2,Women,Footwear,Shoes,Heels,Black,Summer,2012,Casual,Catwalk Women, Black, Heels",         # 3
    "",                                                                                        # 4
    "3,Men,Apparel,Topwear",                                                                   # 5 short
    "abc,Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,Bad Id Tshirt",                      # 6
    ",Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,No Id Tshirt",                          # 7
    "1,Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,Duplicate Of One",                     # 8
    "4,Men,Apparel,Topwear,Tshirts,Red,Fall,2011,Casual,No Image Tshirt",                      # 9
    '5,Unisex,Accessories,Bags,Backpacks,Blue,,2012,Casual,Nike Unisex 3.5" Blue Backpack',    # 10
]) + "\n"  # fmt: skip


def test_kaggle_unquoted_keeps_recoverable_rows_and_reports_the_rest(tmp_path: Path) -> None:
    root = _kaggle(tmp_path / "kaggle", UNQUOTED, ["1", "2", "3", "4x", "5"])
    catalog = load_catalog(root)

    assert catalog.layout == "kaggle"
    assert catalog.root == root.resolve()
    assert [p.id for p in catalog.products] == ["1", "2", "5"]
    one, two, five = catalog.products
    assert one.image == root.resolve() / "images" / "1.jpg" and one.image.is_absolute()
    assert one.attributes == {
        "gender": "Men", "masterCategory": "Apparel", "subCategory": "Topwear", "articleType": "Shirts",
        "baseColour": "Navy Blue", "season": "Fall", "year": "2011", "usage": "Casual",
        "productDisplayName": "Turtle Check Men Navy Blue Shirt",
    }  # fmt: skip
    assert two.name == "Catwalk Women, Black, Heels"
    assert two.attributes["baseColour"] == "Black"
    assert five.name == 'Nike Unisex 3.5" Blue Backpack'
    assert "season" not in five.attributes  # empty values are dropped
    assert catalog.skipped == [
        Skipped("line 5", "malformed row"),
        Skipped("line 6", "invalid id"),
        Skipped("line 7", "invalid id"),
        Skipped("1", "duplicate id"),
        Skipped("4", "missing image"),
    ]
    assert catalog.skipped_counts() == {"malformed row": 1, "invalid id": 2, "duplicate id": 1, "missing image": 1}


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_kaggle_quoted_csv(tmp_path: Path, quoting: int) -> None:
    root = tmp_path / "kaggle"
    rows = [
        ["7", "Women", "Apparel", "Dress", "Dresses", "Red", "Summer", "2012", "Party", 'Red, "Party" Dress'],
        ["8", "Men", "Footwear", "Shoes", "Casual Shoes", "White", "Fall", "2013", "Casual", "Plain Shoes"],
    ]
    _kaggle(root, "", ["7", "8"])
    with (root / "styles.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, quoting=quoting)  # \r\n line ends, as Excel writes them
        writer.writerow(HEADER.split(","))
        writer.writerows(rows)
    catalog = load_catalog(root)
    assert [p.id for p in catalog.products] == ["7", "8"]
    assert catalog.products[0].name == 'Red, "Party" Dress'
    assert catalog.products[1].attributes["articleType"] == "Casual Shoes"
    assert catalog.skipped == []


def test_kaggle_accepts_the_styles_csv_path(tmp_path: Path) -> None:
    root = _kaggle(tmp_path / "k", UNQUOTED, ["1", "2"])
    catalog = load_catalog(root / "styles.csv")
    assert catalog.layout == "kaggle" and [p.id for p in catalog.products] == ["1", "2"]


def test_folder_per_category(tmp_path: Path) -> None:
    root = tmp_path / "train"
    _image(root / "dress" / "a.jpg")
    _image(root / "dress" / "b.PNG")
    _image(root / "shoes" / "c.jpeg")
    _image(root / "shoes" / "c.webp")  # same id as c.jpeg
    (root / "shoes" / "notes.txt").write_text("not a photo")
    _image(root / ".cache" / "x.jpg")  # hidden folders are not categories
    _image(root / "loose.jpg")  # files at the top level belong to no category
    catalog = load_catalog(root)

    assert catalog.layout == "folders"
    assert [p.id for p in catalog.products] == ["dress/a", "dress/b", "shoes/c"]
    assert [p.attributes for p in catalog.products] == [{"category": "dress"}] * 2 + [{"category": "shoes"}]
    assert catalog.products[2].image == (root / "shoes" / "c.jpeg").resolve()
    assert catalog.skipped == [Skipped("shoes/c.webp", "duplicate id"), Skipped("shoes/notes.txt", "not an image file")]


def test_plain_csv(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    _image(root / "pics" / "a.jpg")
    absolute = _image(tmp_path / "elsewhere" / "b.png")
    (root / "catalog.csv").write_text(
        "\n".join([
            "id,image,colour,brand",
            "a,pics/a.jpg,Red,Acme",
            f"b,{absolute},,Acme",
            "c,pics/missing.jpg,Blue,Acme",
            "a,pics/a.jpg,Green,Duplicate",
            ",pics/a.jpg,Green,No id",
            "d,pics/a.jpg,Green",
        ]) + "\n"  # fmt: skip
    )
    catalog = load_catalog(root / "catalog.csv", images_outside=True)

    assert catalog.layout == "csv"
    assert catalog.root == root.resolve()
    assert [p.id for p in catalog.products] == ["a", "b"]
    assert catalog.products[0].image == (root / "pics" / "a.jpg").resolve()
    assert catalog.products[0].attributes == {"colour": "Red", "brand": "Acme"}
    assert catalog.products[1].image == absolute.resolve()
    assert catalog.products[1].attributes == {"brand": "Acme"}
    assert catalog.skipped == [
        Skipped("c", "missing image"),
        Skipped("a", "duplicate id"),
        Skipped("line 6", "invalid id"),
        Skipped("line 7", "malformed row"),
    ]
    # A folder holding one such CSV is the same catalogue (so a catalogue root can be reloaded).
    assert load_catalog(root, images_outside=True).fingerprint() == catalog.fingerprint()
    # A shop's own spelling of the columns ("ID", "Image"): the same products
    (tmp_path / "spelt").mkdir()
    _image(tmp_path / "spelt" / "pics" / "a.jpg")
    (tmp_path / "spelt" / "catalog.csv").write_text("ID,Image,Colour\na,pics/a.jpg,Red\n")
    [spelt] = load_catalog(tmp_path / "spelt").products
    assert (spelt.id, spelt.attributes) == ("a", {"Colour": "Red"})


def test_a_csv_names_images_outside_its_folder_only_when_the_merchant_allows_it(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    _image(root / "pics" / "in.jpg")
    secret = _image(tmp_path / "server" / "secret.jpg")
    (root / "pics" / "link.jpg").symlink_to(secret)  # inside by its name, outside in fact
    (root / "catalog.csv").write_text("id,image\nin,pics/in.jpg\nup,../server/secret.jpg\n"
                                      f"abs,{secret}\nlink,pics/link.jpg\ndots,pics/../pics/in.jpg\n")
    catalog = load_catalog(root / "catalog.csv")
    assert [p.id for p in catalog.products] == ["in", "dots"]
    assert catalog.skipped == [Skipped(ref, "image outside the catalogue folder") for ref in ("up", "abs", "link")]
    allowed = load_catalog(root / "catalog.csv", images_outside=True)
    assert [p.id for p in allowed.products] == ["in", "up", "abs", "link", "dots"] and not allowed.skipped


def test_ids_too_long_for_a_url_or_a_vote_are_skipped_in_every_layout(tmp_path: Path) -> None:
    long_id = "x" * (MAX_ID_CHARS + 1)
    shop = tmp_path / "shop"
    _image(shop / "a.jpg")
    (shop / "catalog.csv").write_text(f"id,image\nok,a.jpg\n{long_id},a.jpg\n{'y' * MAX_ID_CHARS},a.jpg\n")
    catalog = load_catalog(shop / "catalog.csv")
    assert [p.id for p in catalog.products] == ["ok", "y" * MAX_ID_CHARS]
    assert catalog.skipped == [Skipped("x" * 40 + "…", "id too long")]
    folders = tmp_path / "folders"
    _image(folders / "dresses" / "short.jpg")
    _image(folders / "dresses" / f"{'z' * 250}.jpg")  # "dresses/" + 250 characters: over the limit
    catalog = load_catalog(folders)
    assert [p.id for p in catalog.products] == ["dresses/short"]
    assert [s.reason for s in catalog.skipped] == ["id too long"]


def _error(path: Path | str) -> str:
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    return message


def test_missing_path_unknown_layout_and_empty_catalogues_are_one_sentence(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope").startswith(f"No catalogue found at {tmp_path / 'nope'}: expected styles.csv")

    (tmp_path / "empty").mkdir()
    assert _error(tmp_path / "empty").startswith(f"The folder {(tmp_path / 'empty').resolve()} is empty: expected")
    assert "one folder per category, or a CSV with id,image columns" in _error(tmp_path / "empty")

    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "readme.txt").write_text("hello")
    (tmp_path / "text" / "sub").mkdir()
    assert _error(tmp_path / "text").startswith("No catalogue found")
    assert "is not a catalogue" in _error(tmp_path / "text" / "readme.txt")

    no_images = _kaggle(tmp_path / "no-images", UNQUOTED, [])
    assert _error(no_images) == (
        f"The catalogue at {no_images.resolve()} has no usable products "
        "(8 entries skipped: 4 missing image, 1 malformed row, 2 invalid id, 1 duplicate id)."
    )

    header_only = _kaggle(tmp_path / "header-only", HEADER + "\n", [])
    assert "has no usable products." in _error(header_only)

    no_id = _kaggle(tmp_path / "no-id", "name,colour\nx,Red\n", [])
    assert "first column is id" in _error(no_id)

    (tmp_path / "bad.csv").write_text("name;picture\nx;y.jpg\n")
    assert "has no id and image columns (its first line, read as comma-separated, names 'name;picture')" \
        in _error(tmp_path / "bad.csv")

    (tmp_path / "two").mkdir()
    for name in ("a.csv", "b.csv"):
        (tmp_path / "two" / name).write_text("id,image\n1,x.jpg\n")
    assert "holds several catalogue CSVs (a.csv, b.csv)" in _error(tmp_path / "two")

    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "styles.csv").write_bytes(HEADER.encode() + b"\n1,Men,A,B,C,D,E,2011,F,Caf\xe9\n")
    (tmp_path / "latin1" / "images").mkdir()
    assert "is not a UTF-8 text CSV file" in _error(tmp_path / "latin1")


def test_fingerprint_is_stable_and_tracks_content(tmp_path: Path) -> None:
    root = _kaggle(tmp_path / "a", UNQUOTED, ["1", "2", "5"])
    first = load_catalog(root).fingerprint()
    assert load_catalog(root).fingerprint() == first
    moved = shutil.copytree(root, tmp_path / "moved")
    assert load_catalog(moved).fingerprint() == first  # moving the folder changes nothing

    (moved / "styles.csv").write_text(UNQUOTED.replace("Navy Blue,Fall", "Navy Blue,Winter"), encoding="utf-8")
    assert load_catalog(moved).fingerprint() != first  # an attribute changed
    (moved / "images" / "2.jpg").unlink()
    assert load_catalog(moved).fingerprint() != first  # a product is gone


def test_real_kaggle_small_set() -> None:
    root = require(SHARED_FASHION / "styles.csv").parent
    catalog = load_catalog(root)
    assert isinstance(catalog, Catalog) and catalog.layout == "kaggle"
    assert len(catalog) == 39_992
    assert catalog.skipped_counts() == {"missing image": 4}
    assert all(p.image.name == f"{p.id}.jpg" for p in catalog.products[:100])
    assert len({p.attributes.get("baseColour") for p in catalog.products} - {None}) == 47


def test_real_clothing_folders() -> None:
    root = require(SHARED_CLOTHING / "train")
    catalog = load_catalog(root)
    assert catalog.layout == "folders"
    assert len({p.attributes["category"] for p in catalog.products}) == 10
    assert len(catalog) > 3000 and catalog.skipped == []


def test_the_cli_lets_the_merchant_allow_images_outside_the_catalogue() -> None:
    from recommender.cli import build_parser

    for command in ("build", "evaluate"):
        assert build_parser().parse_args([command, "--catalog", "x.csv", "--images-outside-catalog"]).images_outside_catalog
        assert not build_parser().parse_args([command, "--catalog", "x.csv"]).images_outside_catalog
