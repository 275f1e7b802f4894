"""A shop's own catalogue, as a merchant writes it (the merchant's newcomer run): its columns named in any case, a
price column that is no label, and a product left without a category said so by the build and the audit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recommender.audit import audit
from recommender.build import build_index
from recommender.catalog import without_category
from recommender.evaluation.metrics import default_attributes
from recommender.index_files import read_index
from recommender.roles import Roles
from tests.index_fakes import FakeExtractor, make_catalog


def test_a_shop_s_columns_play_their_roles_whatever_their_case() -> None:
    roles = Roles.of(["Category", "Colour", "Name", "Price"])
    assert (roles.category, roles.colour, roles.name) == ("Category", "Colour", "Name")
    assert Roles.of(["articleType", "Category"]).category == "articleType"  # the finest category still comes first
    assert Roles.of(["category", "Category"]).category == Roles.of(["Category", "category"]).category == "category"


def test_a_price_column_is_no_label_to_learn_or_score() -> None:
    records = [{"category": kind, "price": price, "size": size}
               for kind, price, size in [("Dress", "19.99", "S"), ("Shirt", "1,250", "M"), ("Dress", "25", "S"),
                                         ("Shirt", "19.99", "M"), ("Dress", "25", "S"), ("Shirt", "25", "M")]]
    assert default_attributes(records) == ["category", "size"]
    coded = [{"category": code, "Price": price} for code, price in [("101", "10"), ("205", "12")] * 2]  # codes, prices
    assert default_attributes(coded) == ["category"]


def test_products_without_a_category_are_named_by_the_build_and_the_audit(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    catalog = make_catalog(tmp_path / "shop", n=12)
    products = [replace(p, attributes={**p.attributes, "category": "" if i in (3, 7) else ("Dress", "Shirt")[i % 2]})
                for i, p in enumerate(catalog.products)]
    catalog = replace(catalog, products=products)
    sentence = ("2 products without a category (p003, p007): indexed, but no category filter or tag finds them; "
                "fill in the column and build again.")
    assert without_category(products) == sentence
    build_index(catalog, tmp_path / "index", FakeExtractor(), progress=False)
    assert sentence in capsys.readouterr().err
    assert sentence in audit(read_index(tmp_path / "index"), images=False).notes
    assert without_category(catalog.products[:1]) is None  # each has one, or none has


def test_the_fixes_csv_names_images_as_the_shop_s_csv_does(tmp_path: Path) -> None:
    from recommender.audit_store import _image_cell

    shop = tmp_path / "shop"
    (shop / "images").mkdir(parents=True)
    assert _image_cell(shop / "images" / "a.jpg", str(shop)) == "images/a.jpg"
    (tmp_path / "link").symlink_to(shop)  # the catalogue's path as the build resolved it, the image's through a link
    assert _image_cell(tmp_path / "link" / "images" / "a.jpg", str(shop)) == "images/a.jpg"
    outside = tmp_path / "elsewhere" / "b.jpg"  # allowed by build --images-outside-catalog: its full path
    assert _image_cell(outside, str(shop)) == str(outside)
