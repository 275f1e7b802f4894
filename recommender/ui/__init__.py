"""The shopper's web app (Plotly Dash) over the core library: `create_app(settings)`."""

from recommender.ui.app import create_app

__all__ = ["create_app"]
