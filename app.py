"""Start the shop: `python app.py [--index DIR] [--host H] [--port P] [--debug]`.

Without --index (or RECOMMENDER_INDEX) it serves the embedded demo catalogue, building its index
on the first run. For production: `gunicorn app:server` (settings from the environment).
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import cache
from pathlib import Path

from dash import Dash

from recommender.engine import serving_line
from recommender.errors import RecommenderError
from recommender.settings import Settings
from recommender.ui import create_app
from recommender.ui.services import get_services

# what Flask's red "development server" warning means here, said before it
TRYING_IT_OUT = ("This is Flask's development server, for trying the shop out on this machine; a shop serves it "
                 "with gunicorn app:server (README, \"In production\"). Requests are logged with --debug only.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the visual fashion recommender.")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="index folder to serve (default: RECOMMENDER_INDEX, else the demo index)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port to listen on (default: 8050)")
    parser.add_argument("--debug", action="store_true", help="Dash debug mode: reloader and dev tools")
    return parser.parse_args(argv)


@cache
def _app_from_env() -> Dash:
    return create_app(Settings.from_env())


def __getattr__(name: str) -> object:
    """`app.server` for gunicorn, made on first access (once), so importing this file costs nothing."""
    if name == "server":
        return _app_from_env().server
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        app = create_app(Settings.from_env(index=args.index))
    except RecommenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with app.server.app_context():
        print(serving_line(get_services().engine.index), file=sys.stderr, flush=True)
    print(TRYING_IT_OUT, file=sys.stderr, flush=True)
    if not args.debug:  # a line per request (a page load is 20) would bury what the shop says
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
