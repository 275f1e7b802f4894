"""Building blocks of the search page, without a browser: what they show."""

from __future__ import annotations

from types import SimpleNamespace

from recommender.model_spec import ModelSpec
from recommender.ui.components import filter_dropdown, random_weights_banner


def _texts(component) -> list[str]:
    """Every text leaf of a component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [text for child in component for text in _texts(child)]
    children = getattr(component, "children", None)
    return _texts(children) if children is not None else []


def test_filter_options_show_counts_with_thousands_separators() -> None:
    index = SimpleNamespace(attribute_values=lambda name: {"Black": 8776, "Navy Blue": 12})
    dropdown = filter_dropdown("colour", "baseColour", index).children[1]
    labels = [_texts(option["label"]) for option in dropdown.options]
    assert labels == [["Black", "8,776"], ["Navy Blue", "12"]]
    assert [option["value"] for option in dropdown.options] == ["Black", "Navy Blue"]


def test_random_weights_banner_says_why_and_can_be_closed() -> None:
    banner = random_weights_banner(SimpleNamespace(model=ModelSpec("resnet50", "none")))
    text = " ".join(_texts(banner))
    assert text.startswith("Demo mode: the ranking is not meaningful.") and "resnet50 with random weights" in text
    assert "--backbone PATH.tflite" in text
    assert banner.dismissable  # it fills a phone's first screen
