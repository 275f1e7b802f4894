"""`python -m recommender learn`: what shoppers' votes teach the ranking, written beside the index."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "learn",
        help="learn per-product and per-kind preferences and the vote memory from the votes, beside the index",
        description="Read the standing votes of the index's catalogue, fit the learnt preferences (guarded against "
                    "bursts and many sessions, see recommender/preferences.py) and the vote memory (each voting "
                    "query's kind votes, switched on only where a held-out half of the vote sessions says it helps, "
                    "see recommender/memory_switch.py), and write preferences.json and vote-memory.json into the "
                    "index folder atomically; the app picks the new files up within seconds. Run it on a timer.",
    )
    parser.add_argument("--index", type=Path, required=True, metavar="DIR", help="index folder")
    parser.add_argument("--feedback-db", metavar="PATH|URL",
                        help="the vote database: an SQLite file or a postgresql:// URL (default: the app's, "
                             "RECOMMENDER_FEEDBACK_URL or RECOMMENDER_FEEDBACK_DB)")
    parser.add_argument("--uploads", type=Path, metavar="DIR",
                        help="the app's kept photos, to tell the kind of photo queries: the folder the app keeps them in, "
                             "whose subfolder for this index's model is read (default: RECOMMENDER_UPLOAD_DIR)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recommender.errors import RecommenderError
    from recommender.feedback import FeedbackStore, is_database_url
    from recommender.settings import Settings
    from recommender.manifest import read_manifest
    from recommender.uploads import UploadStore, kept_photos_folder
    from recommender.vote_learning import learn

    settings = Settings.from_env()
    target = args.feedback_db or settings.feedback_target
    if not is_database_url(str(target)) and not Path(target).is_file():
        raise RecommenderError(f"There is no vote database at {target}: give --feedback-db.")
    store = FeedbackStore(target)
    uploads = kept_photos_folder(args.uploads or settings.upload_dir, read_manifest(args.index).model)
    learn(args.index, store, UploadStore(uploads) if uploads.is_dir() else None,
          say=lambda line: print(line, flush=True))
    return 0
