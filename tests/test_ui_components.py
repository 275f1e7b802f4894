"""Building blocks of the search page, without a browser: what they show."""

from __future__ import annotations

from types import SimpleNamespace

from recommender.model_spec import ModelSpec
from recommender.tags import Tag
from recommender.ui.components import filter_options, kept_row, random_weights_banner, tag_chips


def _texts(component) -> list[str]:
    """Every text leaf of a component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [text for child in component for text in _texts(child)]
    children = getattr(component, "children", None)
    return _texts(children) if children is not None else []


def test_filter_options_count_under_the_other_filters_and_grey_out_the_impossible() -> None:
    everywhere = {"Black": 8776, "Navy Blue": 12, "Teal": 3}
    options = filter_options("colour", {"Black": 1234, "Teal": 2}, everywhere, chosen=["Navy Blue"])
    labels = [_texts(option["label"]) for option in options]
    assert labels == [["Black", "1,234"], ["Navy Blue", "0"], ["Teal", "2"]]
    # Navy Blue would leave nothing with the other filters, but it is chosen: it stays removable.
    assert [option["disabled"] for option in options] == [False, False, False]
    assert [o["disabled"] for o in filter_options("colour", {"Black": 5}, everywhere, chosen=[])] == [False, True, True]


def _attrs(component) -> list[dict]:
    """The props of every component in a tree."""
    found = [component.to_plotly_json()["props"]] if hasattr(component, "to_plotly_json") else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found += _attrs(child)
    return found


def test_tag_chips_toggle_and_an_automatic_one_says_so() -> None:
    tags = [Tag("gender", "gender", "Women", 0.8, "neighbours"), Tag("category", "articleType", "Dresses", 0.9,
                                                                        "neighbours"),
            Tag("colour", "baseColour", "Black", 0.5, "neighbours")]
    row = tag_chips(tags, {"category": ("Dresses",), "colour": ("Black",)}, auto=("category",))
    text = " ".join(_texts(row))
    assert text.startswith("Looks like: Women · Black · Dresses") and "applied automatically" in text
    buttons = [a for a in _attrs(row) if "n_clicks" in a]
    assert [(b["id"]["type"], b.get("aria-pressed")) for b in buttons] == [
        ("tag-chip", "false"), ("tag-chip", "true"), ("auto-undo", None)]
    assert buttons[0]["aria-label"] == "Show only gender Women" and buttons[1]["aria-label"] == "Remove colour Black"
    assert tag_chips([], {}, ()) is None


def test_kept_row_lists_the_carried_over_filters_but_not_the_automatic_one() -> None:
    row = kept_row({"colour": ("Black", "Navy Blue"), "category": ("Dresses",)}, auto=("category",))
    text = " ".join(_texts(row))
    assert "Kept from your last search:" in text and "Colour: Black" in text and "Colour: Navy Blue" in text
    assert "Dresses" not in text and "Clear these" in text
    assert kept_row({"category": ("Dresses",)}, auto=("category",)) is None


def test_random_weights_banner_says_why_and_can_be_closed() -> None:
    banner = random_weights_banner(SimpleNamespace(model=ModelSpec("resnet50", "none")))
    text = " ".join(_texts(banner))
    assert text.startswith("Demo mode: the ranking is not meaningful.") and "resnet50 with random weights, as asked for" in text
    assert "--backbone PATH.tflite" in text
    assert banner.dismissable  # it fills a phone's first screen
