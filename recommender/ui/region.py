"""The query's picture, large, as a Plotly figure on which a shopper drags a box to search one part.

The picture fills the unit square of the axes, stretched back to its own shape by the y axis's scale
ratio, so a box selection's range is already in fractions of the picture (`recommender.regions.Box`),
whatever size it is drawn at. The chosen region is drawn as a frame with the rest dimmed; a new region
only patches that frame (`region_shapes`) into the figure already drawn, as redrawing the whole figure
costs the browser a second.
Plotly's box selection needs a trace that can be selected: four invisible corner points.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from recommender.regions import Box

__all__ = ["query_figure", "region_shapes", "region_revision", "box_from_selection"]

DIM = "rgba(20, 20, 30, 0.55)"
FRAME = "#f97316"


def query_figure(image_url: str, size: tuple[int, int], box: Box | None, label: str) -> go.Figure:
    """The picture at `image_url` (`size` = its width, height) with `box`, if any, framed."""
    width, height = size
    figure = go.Figure(go.Scatter(x=[0, 1, 0, 1], y=[0, 0, 1, 1], mode="markers", marker={"opacity": 0},
                                  hoverinfo="skip", showlegend=False))
    figure.add_layout_image(source=image_url, xref="x", yref="y", x=0, y=1, sizex=1, sizey=1, sizing="stretch",
                            xanchor="left", yanchor="top", layer="below")
    axis = {"visible": False, "range": [0, 1], "fixedrange": True, "showgrid": False, "zeroline": False}
    figure.update_layout(
        xaxis={**axis, "constrain": "domain"},
        yaxis={**axis, "scaleanchor": "x", "scaleratio": height / max(width, 1), "constrain": "domain"},
        shapes=region_shapes(box),
        selectionrevision=region_revision(box),
        dragmode="select",
        selectdirection="any",
        newselection={"line": {"color": FRAME, "width": 2, "dash": "solid"}},
        activeselection={"fillcolor": "rgba(249, 115, 22, 0.15)", "opacity": 1},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        uirevision=image_url,
        meta={"label": label},
    )
    return figure


def region_shapes(box: Box | None) -> list[dict[str, Any]]:
    """The frame around `box` and the dimmed rest of the picture (none for the whole picture)."""
    if box is None:
        return []
    top, bottom = 1 - box.top, 1 - box.bottom  # the y axis points up
    # one shape, the picture with the box cut out (even-odd fill): rectangles meeting at the box's edges drew
    # faint lines across the picture where their anti-aliased edges met
    hole = f"M0,0 H1 V1 H0 Z M{box.left},{bottom} H{box.right} V{top} H{box.left} Z"
    return [
        {"type": "path", "path": hole, "fillrule": "evenodd", "line": {"width": 0}, "fillcolor": DIM,
         "layer": "above"},
        {"type": "rect", "x0": box.left, "x1": box.right, "y0": bottom, "y1": top,
         "line": {"color": FRAME, "width": 3}, "layer": "above"},
    ]


def region_revision(box: Box | None) -> str:
    """Plotly keeps a box the shopper dragged until this changes: the frame drawn for a region replaces it."""
    return box.key() if box is not None else "whole"


def box_from_selection(selection: Any) -> Box | None:
    """The region of a `dcc.Graph` selectedData (a box selection's x and y range); None for anything else."""
    try:
        (x0, x1), (y0, y1) = selection["range"]["x"], selection["range"]["y"]
        top, bottom = 1 - float(y1), 1 - float(y0)  # the figure's y axis points up
    except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: an integer too large for a float
        return None
    return Box.around(x0, top, x1, bottom)
