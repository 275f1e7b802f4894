"""What must hold before a server's workers start: checked once, in the master's own child process.

`gunicorn app:server` (with `gunicorn.conf.py`) runs this module before forking workers: the index
opens and passes its checks (the demo index is built on first run), with every file a worker reads
later (a trained index's head and hubness, which the index itself reads only when first used), the feedback database has its
schema and the secret key file exists. A problem is one sentence and exit status 2, as with
`python app.py`, instead of every worker failing with a traceback. It runs in a child process so
the master never imports TensorFlow (which does not survive a fork).
"""

from __future__ import annotations

import sys

from recommender.demo_index import ensure_demo_index
from recommender.engine import serving_line
from recommender.errors import RecommenderError
from recommender.feedback import FeedbackStore
from recommender.index import Index
from recommender.settings import Settings
from recommender.ui.session import load_secret_key

__all__ = ["check", "main"]


def check(settings: Settings) -> str:
    """Raise RecommenderError (one sentence) when the app could not serve these settings; else the line
    saying what it serves (`serving_line`)."""
    index = Index.load(settings.index or ensure_demo_index(settings))
    _ = index.head, index.hubness  # a worker reads them when first used: read and checked here, once
    served = serving_line(index)
    FeedbackStore(settings.feedback_target)
    if settings.secret_key is None:
        load_secret_key(settings.feedback_db.parent)
    return served


def main() -> int:
    try:
        served = check(Settings.from_env())
    except RecommenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(served, file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
